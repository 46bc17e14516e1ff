//! Setup of `ticket-intake` over gRPC, as the bootstrap administrator:
//! the department, the employee and the agents, the help topic and the
//! published workflow; and the employee's submission.

use std::time::{Duration, Instant, SystemTime};

use map_contracts::{
    auth::v1::{
        CreateDepartmentRequest, CreateUserRequest, Department, GrantRoleRequest, LoginRequest,
        LoginResponse, RoleRef, admin_service_client::AdminServiceClient,
        auth_service_client::AuthServiceClient, department_service_client::DepartmentServiceClient,
    },
    hdts::v1::{
        CreateHelpTopicRequest, SubmitTicketRequest,
        help_desk_service_client::HelpDeskServiceClient,
    },
    tts::v1::{
        CreateWorkflowRequest, PublishWorkflowRequest, TicketStatus, WorkflowStep,
        WorkflowTransition, workflow_service_client::WorkflowServiceClient,
    },
};
use secrecy::{ExposeSecret as _, SecretString};
use tonic::{
    Request,
    metadata::{Ascii, MetadataValue},
    transport::Channel,
};

use super::{
    WAIT,
    observe::{Openings, system_time},
};
use crate::scenarios::platform::{BoxError, random_base64};

/// What setup made.
#[derive(Debug)]
pub(super) struct Setup {
    /// `authorization` of the employee.
    pub(super) employee: MetadataValue<Ascii>,
    /// The help topic submissions go under.
    pub(super) topic_id: String,
    /// The agents' user ids.
    pub(super) agents: Vec<String>,
}

/// Submits one ticket as the employee; its HDTS id and when HDTS stamped it.
pub(super) async fn submit(
    mut client: HelpDeskServiceClient<Channel>,
    employee: &MetadataValue<Ascii>,
    topic: &str,
) -> Result<(String, Option<SystemTime>), String> {
    let mut request = Request::new(SubmitTicketRequest {
        subject: "Laptop will not boot".into(),
        description: "Black screen after the update; the power light is on.".into(),
        help_topic_id: topic.to_owned(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..SubmitTicketRequest::default()
    });
    request
        .metadata_mut()
        .insert("authorization", employee.clone());
    let response = client
        .submit_ticket(request)
        .await
        .map_err(|s| format!("SubmitTicket: {:?} {}", s.code(), s.message()))?;
    response
        .into_inner()
        .ticket
        .map(|t| {
            let created = t.create_time.map(|c| system_time(c.seconds, c.nanos));
            (t.id, created)
        })
        .ok_or_else(|| "SubmitTicket answered no ticket".to_owned())
}

/// One ticket through before the load: the watch's queue is bound, the
/// workers follow the directory, the workflow routes. Retried with a new
/// ticket until one is seen assigned.
pub(super) async fn probe(
    channel: &Channel,
    setup: &Setup,
    openings: &Openings,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + WAIT * 2;
    let mut last = String::new();
    while Instant::now() < deadline {
        let client = HelpDeskServiceClient::new(channel.clone());
        let (id, _) = submit(client, &setup.employee, &setup.topic_id).await?;
        match openings.wait_for(&id, Duration::from_secs(3)).await {
            Ok(opened) if !opened.assignee.is_empty() => return Ok(()),
            Ok(opened) => {
                return Err(format!(
                    "the first ticket was not assigned: {}",
                    opened.triage_reason
                )
                .into());
            }
            Err(e) => last = e,
        }
    }
    Err(format!("no ticket came through before the load: {last}").into())
}

/// The department, users, topic and workflow, as the administrator.
pub(super) async fn setup(
    auth: Channel,
    hdts: Channel,
    tts: Channel,
    admin: &(String, SecretString),
    agents: usize,
) -> Result<Setup, BoxError> {
    let login = |email: String, password: String| {
        let auth = auth.clone();
        async move {
            AuthServiceClient::new(auth)
                .login(LoginRequest { email, password })
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| format!("Login: {:?} {}", s.code(), s.message()))
        }
    };
    let admin_login = || login(admin.0.clone(), admin.1.expose_secret().to_owned());
    let first = admin_login().await?;
    let admin_id = first
        .user
        .as_ref()
        .map(|u| u.id.clone())
        .unwrap_or_default();
    let token = bearer(&first)?;
    let mut admins = AdminServiceClient::new(auth.clone());
    for (system, role) in [("tts", "admin"), ("hdts", "admin")] {
        admins
            .grant_role(authorized(
                &token,
                GrantRoleRequest {
                    user_id: admin_id.clone(),
                    role: Some(role_ref(system, role)),
                },
            ))
            .await?;
    }
    // Signed in again, the token carries the new roles.
    let token = bearer(&admin_login().await?)?;
    DepartmentServiceClient::new(auth.clone())
        .create_department(authorized(
            &token,
            CreateDepartmentRequest {
                department: Some(Department {
                    code: "IT".into(),
                    name: "Information Technology".into(),
                    ..Department::default()
                }),
            },
        ))
        .await?;
    let employee_password = random_base64(24);
    let create_user = |email: String, name: String, password: String, role: RoleRef| {
        let request = authorized(
            &token,
            CreateUserRequest {
                email,
                display_name: name,
                department: "IT".into(),
                password,
                roles: vec![role],
            },
        );
        let mut admins = admins.clone();
        async move {
            admins
                .create_user(request)
                .await
                .map(|r| r.into_inner().user.map(|u| u.id).unwrap_or_default())
        }
    };
    create_user(
        "employee@example.com".into(),
        "Employee".into(),
        employee_password.clone(),
        role_ref("hdts", "employee"),
    )
    .await?;
    let mut agent_ids = Vec::new();
    for i in 0..agents.max(1) {
        agent_ids.push(
            create_user(
                format!("agent{i}@example.com"),
                format!("Agent {i}"),
                random_base64(24),
                role_ref("tts", "agent"),
            )
            .await?,
        );
    }
    let employee = bearer(&login("employee@example.com".into(), employee_password).await?)?;

    // Department IT reaches HDTS's and TTS's directories through Auth's
    // events: each accepts what names it once it is there.
    let topic = retry("CreateHelpTopic", || {
        let mut client = HelpDeskServiceClient::new(hdts.clone());
        let request = authorized(
            &token,
            CreateHelpTopicRequest {
                name: "Laptop problem".into(),
                department_code: "IT".into(),
                category: "Hardware".into(),
                sub_category: "Laptop".into(),
                request_id: uuid::Uuid::now_v7().to_string(),
                ..CreateHelpTopicRequest::default()
            },
        );
        async move { client.create_help_topic(request).await }
    })
    .await?
    .help_topic
    .map(|t| t.id)
    .ok_or("CreateHelpTopic answered no topic")?;
    let step = |id: &str, status: TicketStatus, end: bool| WorkflowStep {
        id: id.into(),
        name: id.into(),
        role: "tts:agent".into(),
        ticket_status: status.into(),
        end,
        ..WorkflowStep::default()
    };
    let workflow = retry("CreateWorkflow", || {
        let mut client = WorkflowServiceClient::new(tts.clone());
        let request = authorized(
            &token,
            CreateWorkflowRequest {
                name: "Laptop repairs".into(),
                department_code: "IT".into(),
                category: "Hardware".into(),
                sub_category: "Laptop".into(),
                steps: vec![
                    step("work", TicketStatus::InProgress, false),
                    step("done", TicketStatus::Resolved, true),
                ],
                transitions: vec![WorkflowTransition {
                    from_step_id: "work".into(),
                    to_step_id: "done".into(),
                    action: "resolve".into(),
                    name: "Resolve".into(),
                    ..WorkflowTransition::default()
                }],
                initial_step_id: "work".into(),
                request_id: uuid::Uuid::now_v7().to_string(),
                ..CreateWorkflowRequest::default()
            },
        );
        async move { client.create_workflow(request).await }
    })
    .await?
    .workflow
    .ok_or("CreateWorkflow answered no workflow")?;
    WorkflowServiceClient::new(tts)
        .publish_workflow(authorized(
            &token,
            PublishWorkflowRequest {
                workflow_id: workflow.id,
                revision: workflow.revision,
                request_id: uuid::Uuid::now_v7().to_string(),
                ..PublishWorkflowRequest::default()
            },
        ))
        .await?;
    Ok(Setup {
        employee,
        topic_id: topic,
        agents: agent_ids,
    })
}

pub(super) fn role_ref(system: &str, role: &str) -> RoleRef {
    RoleRef {
        system: system.into(),
        role: role.into(),
    }
}

pub(super) fn bearer(login: &LoginResponse) -> Result<MetadataValue<Ascii>, BoxError> {
    Ok(format!("Bearer {}", login.access_token).parse()?)
}

pub(super) fn authorized<T>(token: &MetadataValue<Ascii>, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request
}

/// `call` until it succeeds, for at most [`WAIT`]: a step that needs an
/// event to have reached another system first.
pub(super) async fn retry<T, F, Fut>(what: &str, mut call: F) -> Result<T, BoxError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        match call().await {
            Ok(response) => return Ok(response.into_inner()),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(s) => return Err(format!("{what}: {:?} {}", s.code(), s.message()).into()),
        }
    }
}
