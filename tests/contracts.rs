//! The descriptor set exported for reflection and the gateway holds every
//! service and method of the v1 surface (issue 2), and every event type.

use std::collections::BTreeSet;

use prost::Message as _;
use prost_types::FileDescriptorSet;

fn methods() -> BTreeSet<String> {
    let set = FileDescriptorSet::decode(map_contracts::FILE_DESCRIPTOR_SET)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = BTreeSet::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                out.insert(format!(
                    "{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    out
}

fn messages() -> BTreeSet<String> {
    let set = FileDescriptorSet::decode(map_contracts::FILE_DESCRIPTOR_SET)
        .unwrap_or_else(|e| panic!("{e}"));
    set.file
        .iter()
        .flat_map(|f| {
            f.message_type
                .iter()
                .map(move |m| format!("{}.{}", f.package(), m.name()))
        })
        .collect()
}

const SURFACE: &[(&str, &[&str])] = &[
    (
        "map.auth.v1.AuthService",
        &[
            "Login",
            "Refresh",
            "Logout",
            "ValidateToken",
            "GetUserInfo",
            "BatchGetUserInfo",
            "ListUsers",
            "NextAssignee",
            "ChangePassword",
        ],
    ),
    (
        "map.auth.v1.AdminService",
        &[
            "CreateUser",
            "UpdateUser",
            "DeactivateUser",
            "ReactivateUser",
            "GrantRole",
            "RevokeRole",
            "ListSystems",
            "ListRoles",
            "CreateRole",
            "CreateApiKey",
            "ListApiKeys",
            "RevokeApiKey",
        ],
    ),
    (
        "map.hdts.v1.HelpDeskService",
        &[
            "SubmitTicket",
            "GetTicket",
            "ListTickets",
            "ListReplies",
            "AddReply",
            "WithdrawTicket",
            "ConfirmResolution",
            "ReopenTicket",
            "RateTicket",
        ],
    ),
    (
        "map.tts.v1.TicketService",
        &[
            "CreateTicket",
            "GetTicket",
            "ListTickets",
            "AssignTicket",
            "TransitionTicket",
            "AddComment",
            "ListTicketEvents",
            "WatchTicket",
        ],
    ),
    (
        "map.tts.v1.WorkflowService",
        &[
            "CreateWorkflow",
            "GetWorkflow",
            "ListWorkflows",
            "UpdateWorkflow",
            "PublishWorkflow",
            "ArchiveWorkflow",
        ],
    ),
    (
        "map.tts.v1.SlaService",
        &[
            "CreateSlaPolicy",
            "ListSlaPolicies",
            "UpdateSlaPolicy",
            "CreateCalendar",
            "ListCalendars",
        ],
    ),
    (
        "map.ams.v1.CategoryService",
        &["CreateCategory", "ListCategories", "UpdateCategory"],
    ),
    (
        "map.ams.v1.AssetService",
        &[
            "CreateAsset",
            "GetAsset",
            "ListAssets",
            "UpdateAsset",
            "CheckOutAsset",
            "CheckInAsset",
            "TransferAsset",
            "SendToRepair",
            "DisposeAsset",
            "ListAssetTransactions",
            "GetDepreciationSchedule",
            "ImportAssets",
        ],
    ),
    (
        "map.bms.v1.BudgetService",
        &[
            "CreateFiscalYear",
            "CreateBudget",
            "GetBudget",
            "ListBudgets",
        ],
    ),
    (
        "map.bms.v1.ProposalService",
        &[
            "CreateProposal",
            "SubmitProposal",
            "ApproveProposal",
            "RejectProposal",
            "GetProposal",
            "ListProposals",
        ],
    ),
    (
        "map.bms.v1.ExpenseService",
        &["RecordExpense", "ListExpenses", "VoidExpense"],
    ),
    (
        "map.bms.v1.ReportService",
        &["GetBudgetReport", "ExportBudgetReport"],
    ),
];

#[test]
fn descriptor_set_holds_every_service_and_method() {
    let have = methods();
    let missing: Vec<String> = SURFACE
        .iter()
        .flat_map(|(service, rpcs)| rpcs.iter().map(move |rpc| format!("{service}/{rpc}")))
        .filter(|m| !have.contains(m))
        .collect();
    assert!(
        missing.is_empty(),
        "missing from the descriptor set: {missing:?}"
    );
}

#[test]
fn watch_ticket_streams_from_the_server() {
    let set = FileDescriptorSet::decode(map_contracts::FILE_DESCRIPTOR_SET)
        .unwrap_or_else(|e| panic!("{e}"));
    let watch = set
        .file
        .iter()
        .flat_map(|f| &f.service)
        .filter(|s| s.name() == "TicketService")
        .flat_map(|s| &s.method)
        .find(|m| m.name() == "WatchTicket")
        .unwrap_or_else(|| panic!("WatchTicket missing"));
    assert!(watch.server_streaming() && !watch.client_streaming());
}

#[test]
fn every_event_has_an_envelope_payload_message() {
    let have = messages();
    let events = [
        "AuthUserCreated",
        "AuthUserUpdated",
        "AuthUserDeactivated",
        "AuthRoleGranted",
        "AuthRoleRevoked",
        "HdtsTicketSubmitted",
        "HdtsTicketReplied",
        "HdtsTicketWithdrawn",
        "HdtsTicketClosed",
        "TtsTicketCreated",
        "TtsTicketAssigned",
        "TtsTicketStatusChanged",
        "TtsTicketCommented",
        "TtsSlaWarning",
        "TtsSlaBreached",
        "AmsAssetCheckedOut",
        "AmsAssetCheckedIn",
        "AmsAssetPurchased",
        "AmsAssetDisposed",
        "AmsAssetOverdue",
        "BmsProposalSubmitted",
        "BmsProposalApproved",
        "BmsProposalRejected",
        "BmsBudgetThresholdCrossed",
        "Envelope",
    ];
    let missing: Vec<&str> = events
        .into_iter()
        .filter(|e| !have.contains(&format!("map.events.v1.{e}")))
        .collect();
    assert!(missing.is_empty(), "missing event messages: {missing:?}");
}

#[test]
fn generated_clients_and_servers_exist() {
    // Compiles only with both features on (the default).
    fn _client(
        c: tonic::transport::Channel,
    ) -> map_contracts::tts::v1::ticket_service_client::TicketServiceClient<tonic::transport::Channel>
    {
        map_contracts::tts::v1::ticket_service_client::TicketServiceClient::new(c)
    }
    let name = <map_contracts::auth::v1::auth_service_server::AuthServiceServer<()> as tonic::server::NamedService>::NAME;
    assert_eq!(name, "map.auth.v1.AuthService");
}
