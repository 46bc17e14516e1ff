//! The help desk's whole conversation, as a user drives it through the
//! gateway with grpcurl (a real third-party client, through server
//! reflection): shared by the chart's run test (separate processes,
//! PostgreSQL, RabbitMQ) and the `map dev` test (one process, SQLite, the
//! in-process bus), so both walk exactly the same flow.
#![allow(dead_code)] // each test binary uses part of it

use std::time::Duration;

use map_kit::testing::poll_until;
use serde_json::{Value, json};

/// Signs in at `gateway` as the administrator `email` (who holds nothing of
/// TTS or HDTS yet), then walks the conversation: roles granted, a TTS
/// workflow published (an unknown step role refused by name), a department
/// that reaches HDTS's directory, a help topic, a submission that TTS opens
/// and assigns round-robin and HDTS mirrors, the agent's question, the
/// employee's reply (the trigger back to work), the resolution, the
/// confirmation (closed on both sides) and the reopening; then SLAs on: a
/// policy that takes over the open ticket, its clock paused while the
/// employee is silent, and its breach escalated to a manager. `logs`
/// explains a failure.
pub async fn walk(gateway: &str, email: &str, password: &str, logs: &dyn Fn() -> String) {
    let gateway = gateway.to_owned();
    // 4. A real client through the gateway: sign in, validate the token.
    let login = grpcurl(
        &gateway,
        "map.auth.v1.AuthService/Login",
        &json!({"email": email, "password": password}),
    );
    let token = login["accessToken"]
        .as_str()
        .expect("an access token")
        .to_owned();
    let validated = grpcurl(
        &gateway,
        "map.auth.v1.AuthService/ValidateToken",
        &json!({"token": token}),
    );
    assert_eq!(validated["valid"], true, "{validated}");
    assert!(validated.to_string().contains("\"admin\""), "{validated}");

    // 5. TTS: the administrator takes tts:admin, signs in again, and creates
    // and publishes a workflow through the gateway; TTS checks its step
    // roles against Auth's roles of TTS with its own service key.
    let admin_id = login["user"]["id"]
        .as_str()
        .expect("the user's id")
        .to_owned();
    let bearer = |token: &str| format!("authorization: Bearer {token}");
    // Calls through the gateway as the signed-in administrator.
    let call = |method: &str, body: &Value| grpcurl_as(&gateway, &bearer(&token), method, body);
    call(
        "map.auth.v1.AdminService/GrantRole",
        &json!({"userId": admin_id, "role": {"system": "tts", "role": "admin"}}),
    );
    let login = grpcurl(
        &gateway,
        "map.auth.v1.AuthService/Login",
        &json!({"email": email, "password": password}),
    );
    let token = login["accessToken"]
        .as_str()
        .expect("an access token")
        .to_owned();
    // Calls through the gateway as the signed-in administrator.
    let call = |method: &str, body: &Value| grpcurl_as(&gateway, &bearer(&token), method, body);
    let step = |id: &str, status: &str, end: bool| json!({"id": id, "name": id, "role": "tts:agent", "ticketStatus": status, "end": end});
    let mut workflow = json!({
        "name": "Desk support",
        "steps": [step("work", "TICKET_STATUS_IN_PROGRESS", false),
                  step("waiting", "TICKET_STATUS_WAITING_ON_REQUESTER", false),
                  step("done", "TICKET_STATUS_RESOLVED", true)],
        "transitions": [
            {"fromStepId": "work", "toStepId": "waiting", "action": "ask", "name": "Ask", "requiresComment": true},
            {"fromStepId": "waiting", "toStepId": "work", "action": "replied", "name": "Replied",
             "trigger": "TRANSITION_TRIGGER_REQUESTER_REPLIED"},
            {"fromStepId": "work", "toStepId": "done", "action": "resolve", "name": "Resolve", "requiresComment": true},
        ],
        "initialStepId": "work",
        "requestId": "01890a5d-ac96-774b-bcce-b302099a8057",
    });
    // A role Auth does not have is refused by name.
    workflow["steps"][0]["role"] = json!("tts:wizard");
    let refused = grpcurl_raw(
        &gateway,
        &bearer(&token),
        "map.tts.v1.WorkflowService/CreateWorkflow",
        &workflow,
    );
    assert!(
        !refused.status.success(),
        "a workflow with an unknown role was accepted"
    );
    let why = String::from_utf8_lossy(&refused.stdout).into_owned()
        + &String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("\"code\": 3") && why.contains("steps[0].role"),
        "{why}"
    );
    workflow["steps"][0]["role"] = json!("tts:agent");
    workflow["requestId"] = json!("01890a5d-ac96-774b-bcce-b302099a8058");
    let created = call("map.tts.v1.WorkflowService/CreateWorkflow", &workflow);
    let id = created["workflow"]["id"]
        .as_str()
        .expect("a workflow id")
        .to_owned();
    let published = call(
        "map.tts.v1.WorkflowService/PublishWorkflow",
        &json!({"workflowId": id, "revision": 1, "requestId": "01890a5d-ac96-774b-bcce-b302099a8059"}),
    );
    assert_eq!(
        published["workflow"]["state"], "WORKFLOW_STATE_PUBLISHED",
        "{published}"
    );

    // 6. The help-desk flow across processes and the broker: the
    // administrator (now also an employee, an HDTS admin and the only TTS
    // agent) makes a help topic and submits under it; the TTS worker opens
    // the ticket on the published workflow and assigns it round-robin; the
    // HDTS worker mirrors the TTS number back.
    for (system, role) in [("hdts", "employee"), ("hdts", "admin"), ("tts", "agent")] {
        call(
            "map.auth.v1.AdminService/GrantRole",
            &json!({"userId": admin_id, "role": {"system": system, "role": role}}),
        );
    }
    let login = grpcurl(
        &gateway,
        "map.auth.v1.AuthService/Login",
        &json!({"email": email, "password": password}),
    );
    let token = login["accessToken"]
        .as_str()
        .expect("an access token")
        .to_owned();
    // Calls through the gateway as the signed-in administrator.
    let call = |method: &str, body: &Value| grpcurl_as(&gateway, &bearer(&token), method, body);
    // Auth's department IT reaches HDTS's directory through the broker: the
    // topic is accepted once it is there.
    call(
        "map.auth.v1.DepartmentService/CreateDepartment",
        &json!({"department": {"code": "IT", "name": "IT"}}),
    );
    let new_topic = json!({"name": "Laptop problem", "departmentCode": "IT", "category": "Hardware",
                           "subCategory": "Laptop", "requestId": "01890a5d-ac96-774b-bcce-b302099a805a"});
    let accepted = poll_until(Duration::from_secs(60), || {
        let out = grpcurl_raw(
            &gateway,
            &bearer(&token),
            "map.hdts.v1.HelpDeskService/CreateHelpTopic",
            &new_topic,
        );
        async move { out.status.success() }
    })
    .await;
    assert!(accepted, "HDTS never learnt department IT:\n{}", logs());
    let topic = call("map.hdts.v1.HelpDeskService/CreateHelpTopic", &new_topic);
    let submitted = call(
        "map.hdts.v1.HelpDeskService/SubmitTicket",
        &json!({"subject": "Laptop will not boot", "description": "Black screen",
                "helpTopicId": topic["helpTopic"]["id"], "departmentCode": "",
                "requestId": "01890a5d-ac96-774b-bcce-b302099a805b"}),
    );
    let hd_number = submitted["ticket"]["number"]
        .as_str()
        .expect("an HD number")
        .to_owned();
    let lookup = json!({"number": hd_number});
    let mirrored = poll_until(Duration::from_secs(60), || {
        let answer = call("map.hdts.v1.HelpDeskService/GetTicket", &lookup);
        async move {
            answer["ticket"]["ttsTicketNumber"]
                .as_str()
                .is_some_and(|n| n.starts_with("TT-"))
        }
    })
    .await;
    assert!(
        mirrored,
        "HDTS never showed the TTS ticket of {hd_number}:\n{}",
        logs()
    );
    let hdts_view = call("map.hdts.v1.HelpDeskService/GetTicket", &lookup);
    assert_eq!(
        hdts_view["ticket"]["status"], "TICKET_STATUS_IN_PROGRESS",
        "{hdts_view}"
    );
    let tts_number = hdts_view["ticket"]["ttsTicketNumber"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let tts_view = call(
        "map.tts.v1.TicketService/GetTicket",
        &json!({"number": tts_number}),
    );
    assert_eq!(
        tts_view["ticket"]["assigneeUserId"],
        admin_id.as_str(),
        "{tts_view}"
    );
    assert_eq!(tts_view["ticket"]["workflowId"], id.as_str(), "{tts_view}");
    assert_eq!(
        tts_view["ticket"]["hdtsTicketId"], submitted["ticket"]["id"],
        "{tts_view}"
    );

    // The agent asks with a public note: HDTS shows the ticket waiting, with
    // the note as a reply. The employee replies: the workflow's trigger brings
    // the TTS ticket back to work. The agent resolves: HDTS shows it resolved.
    let tts_id = tts_view["ticket"]["id"].clone();
    let hd_id = submitted["ticket"]["id"].clone();
    let move_to = |action: &str, note: &str, request: &str| {
        call(
            "map.tts.v1.TicketService/TransitionTicket",
            &json!({"ticketId": tts_id, "action": action, "comment": note,
                    "commentVisibility": "COMMENT_VISIBILITY_PUBLIC", "requestId": request}),
        )
    };
    let hdts_status = |wanted: &'static str| {
        let answer = call("map.hdts.v1.HelpDeskService/GetTicket", &lookup);
        async move { answer["ticket"]["status"] == wanted }
    };
    move_to(
        "ask",
        "Which model is it?",
        "01890a5d-ac96-774b-bcce-b302099a805c",
    );
    let waiting = poll_until(Duration::from_secs(60), || {
        hdts_status("TICKET_STATUS_WAITING_ON_REQUESTER")
    })
    .await;
    assert!(waiting, "HDTS never showed the ticket waiting:\n{}", logs());
    // The note is its own event (tts.ticket.commented), applied just after.
    let list_replies = json!({"ticketId": hd_id});
    let noted = poll_until(Duration::from_secs(60), || {
        let replies = call("map.hdts.v1.HelpDeskService/ListReplies", &list_replies);
        async move { replies.to_string().contains("Which model is it?") }
    })
    .await;
    assert!(noted, "HDTS never showed the agent's note:\n{}", logs());
    call(
        "map.hdts.v1.HelpDeskService/AddReply",
        &json!({"ticketId": hd_id, "body": "A T14", "visibility": "REPLY_VISIBILITY_PUBLIC",
                "requestId": "01890a5d-ac96-774b-bcce-b302099a805d"}),
    );
    let tts_lookup = json!({"number": tts_number});
    let back = poll_until(Duration::from_secs(60), || {
        let answer = call("map.tts.v1.TicketService/GetTicket", &tts_lookup);
        async move { answer["ticket"]["currentStepId"] == "work" }
    })
    .await;
    assert!(
        back,
        "the requester's reply never moved the TTS ticket:\n{}",
        logs()
    );
    move_to(
        "resolve",
        "Replaced the battery",
        "01890a5d-ac96-774b-bcce-b302099a805e",
    );
    let resolved = poll_until(Duration::from_secs(60), || {
        hdts_status("TICKET_STATUS_RESOLVED")
    })
    .await;
    assert!(
        resolved,
        "HDTS never showed the ticket resolved:\n{}",
        logs()
    );
    // The employee confirms (both sides closed), then reopens within the
    // window (TTS back at work, HDTS in progress again).
    call(
        "map.hdts.v1.HelpDeskService/ConfirmResolution",
        &json!({"ticketId": hd_id, "requestId": "01890a5d-ac96-774b-bcce-b302099a805f"}),
    );
    let tts_status = |wanted: &'static str| {
        let answer = call("map.tts.v1.TicketService/GetTicket", &tts_lookup);
        async move { answer["ticket"]["status"] == wanted }
    };
    let closed = poll_until(Duration::from_secs(60), || {
        tts_status("TICKET_STATUS_CLOSED")
    })
    .await;
    assert!(closed, "TTS never closed the confirmed ticket:\n{}", logs());
    call(
        "map.hdts.v1.HelpDeskService/ReopenTicket",
        &json!({"ticketId": hd_id, "reason": "Broken again", "requestId": "01890a5d-ac96-774b-bcce-b302099a8060"}),
    );
    let reopened = poll_until(Duration::from_secs(60), || {
        tts_status("TICKET_STATUS_IN_PROGRESS")
    })
    .await;
    assert!(reopened, "TTS never reopened the ticket:\n{}", logs());
    let mirrored = poll_until(Duration::from_secs(60), || {
        hdts_status("TICKET_STATUS_IN_PROGRESS")
    })
    .await;
    assert!(
        mirrored,
        "HDTS does not show the reopened ticket in progress:\n{}",
        logs()
    );

    // 7. SLAs on. A manager joins; a policy for the ticket's priority gives
    // it 4 s to resolve, around the clock, and escalates a breach to
    // tts:manager; made active, it takes over the open ticket. The agent
    // asks the employee: the clock pauses, and the employee's silence —
    // longer than the whole target — does not count. The reply resumes it;
    // it breaches, and the escalation consumer hands the ticket to the
    // manager through Auth's round-robin.
    let mia = call(
        "map.auth.v1.AdminService/CreateUser",
        &json!({"email": "mia.manager@example.com", "displayName": "Mia", "department": "IT",
                "password": "Correct-Horse-Battery-9",
                "roles": [{"system": "tts", "role": "manager"}]}),
    );
    let mia = mia["user"]["id"].as_str().expect("Mia's id").to_owned();
    let priority =
        call("map.tts.v1.TicketService/GetTicket", &tts_lookup)["ticket"]["priority"].clone();
    let policy = call(
        "map.tts.v1.SlaService/CreateSlaPolicy",
        &json!({"name": "Fast desk", "priority": priority, "firstResponseTarget": "2s",
                "resolutionTarget": "4s", "warningThresholdPercent": 50, "active": true,
                "escalationLevels": [{"clock": "SLA_CLOCK_RESOLUTION",
                                      "trigger": "ESCALATION_TRIGGER_BREACH",
                                      "action": "ESCALATION_ACTION_REASSIGN_TO_ROLE",
                                      "role": "tts:manager"}],
                "requestId": "01890a5d-ac96-774b-bcce-b302099a8061"}),
    );
    let resolution_clock = |ticket: &Value| -> Value {
        ticket["ticket"]["sla"]["clocks"]
            .as_array()
            .and_then(|clocks| {
                clocks
                    .iter()
                    .find(|c| c["clock"] == "SLA_CLOCK_RESOLUTION")
                    .cloned()
            })
            .unwrap_or(Value::Null)
    };
    let followed = call("map.tts.v1.TicketService/GetTicket", &tts_lookup);
    assert_eq!(
        followed["ticket"]["sla"]["slaPolicyId"], policy["slaPolicy"]["id"],
        "the open ticket did not take the new policy: {followed}"
    );
    move_to(
        "ask",
        "Is it plugged in?",
        "01890a5d-ac96-774b-bcce-b302099a8062",
    );
    let paused = call("map.tts.v1.TicketService/GetTicket", &tts_lookup);
    assert_eq!(
        resolution_clock(&paused)["state"],
        "SLA_CLOCK_STATE_PAUSED",
        "{paused}"
    );
    // The employee's silence, the scenario itself (not a wait for
    // something): 6 s, more than the whole 4 s target.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let silent = call("map.tts.v1.TicketService/GetTicket", &tts_lookup);
    assert_eq!(
        resolution_clock(&silent)["state"],
        "SLA_CLOCK_STATE_PAUSED",
        "the requester's silence counted: {silent}"
    );
    assert_eq!(
        silent["ticket"]["assigneeUserId"],
        admin_id.as_str(),
        "{silent}"
    );
    call(
        "map.hdts.v1.HelpDeskService/AddReply",
        &json!({"ticketId": hd_id, "body": "It is now", "visibility": "REPLY_VISIBILITY_PUBLIC",
                "requestId": "01890a5d-ac96-774b-bcce-b302099a8063"}),
    );
    let escalated = poll_until(Duration::from_secs(90), || {
        let answer = call("map.tts.v1.TicketService/GetTicket", &tts_lookup);
        let mia = mia.clone();
        async move { answer["ticket"]["assigneeUserId"] == mia.as_str() }
    })
    .await;
    assert!(
        escalated,
        "the breach was never escalated to the manager:\n{}",
        logs()
    );
    let history = call(
        "map.tts.v1.TicketService/ListTicketEvents",
        &json!({"ticketId": tts_id, "pageSize": 200}),
    );
    let events = history["events"].as_array().cloned().unwrap_or_default();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "TICKET_EVENT_TYPE_SLA_BREACHED"),
        "{history}"
    );
    assert!(
        events.iter().any(
            |e| e["assigned"]["reason"] == "ASSIGNMENT_REASON_ESCALATION"
                && e["assigned"]["assigneeUserId"] == mia.as_str()
        ),
        "{history}"
    );
}

/// grpcurl's JSON answer to `method` with `body`, through server reflection.
pub fn grpcurl(addr: &str, method: &str, body: &Value) -> Value {
    grpcurl_as(addr, "x-caller: anonymous", method, body)
}

/// grpcurl's JSON answer to `method` with `body` and the `header` line.
pub fn grpcurl_as(addr: &str, header: &str, method: &str, body: &Value) -> Value {
    let out = grpcurl_raw(addr, header, method, body);
    assert!(
        out.status.success(),
        "grpcurl {method} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// grpcurl's whole outcome of `method` with `body` and the `header` line.
pub fn grpcurl_raw(addr: &str, header: &str, method: &str, body: &Value) -> std::process::Output {
    std::process::Command::new("grpcurl")
        .args([
            "-plaintext",
            "-format-error",
            "-H",
            header,
            "-d",
            &body.to_string(),
            addr,
            method,
        ])
        .output()
        .unwrap()
}
