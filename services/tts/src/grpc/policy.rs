//! Who may call each RPC of TTS: one table per service, enforced by
//! map-kit's authentication layer in front of the handlers. Deny by
//! default: an RPC missing here is refused.

use map_kit::{
    System,
    authz::{Access, Policy},
};

/// Workflow authors; SLA policies' and calendars' too.
const ADMIN: Access = Access::AnyRole(&[(System::Tts, "admin")]);
/// Those who write the teams' canned responses and read SLA reports.
const MANAGERS: Access = Access::AnyRole(&[(System::Tts, "manager"), (System::Tts, "admin")]);
/// Everyone who works tickets (and so reads workflows).
const STAFF: Access = Access::AnyRole(&[
    (System::Tts, "agent"),
    (System::Tts, "manager"),
    (System::Tts, "admin"),
]);

/// `map.tts.v1.WorkflowService`.
pub static WORKFLOW_SERVICE: Policy = Policy {
    service: "map.tts.v1.WorkflowService",
    methods: &[
        ("CreateWorkflow", ADMIN),
        ("GetWorkflow", STAFF),
        ("ListWorkflows", STAFF),
        ("UpdateWorkflow", ADMIN),
        ("PublishWorkflow", ADMIN),
        ("ArchiveWorkflow", ADMIN),
    ],
};

/// `map.tts.v1.TicketService`. Moving a ticket is further limited to its
/// assignee or a manager by the domain.
pub static TICKET_SERVICE: Policy = Policy {
    service: "map.tts.v1.TicketService",
    methods: &[
        ("CreateTicket", STAFF),
        ("GetTicket", STAFF),
        ("ListTickets", STAFF),
        ("AssignTicket", STAFF),
        ("TransitionTicket", STAFF),
        ("AddComment", STAFF),
        ("ListComments", STAFF),
        ("ListTicketEvents", STAFF),
        ("WatchTicket", STAFF),
        ("WatchTickets", STAFF),
        ("SearchTickets", STAFF),
        ("UpdateTicket", STAFF),
        ("GetAttachment", STAFF),
    ],
};

/// `map.tts.v1.UploadService`: staff upload what they attach to comments
/// (only the uploader appends, completes or attaches: the domain's rule).
pub static UPLOAD_SERVICE: Policy = Policy {
    service: "map.tts.v1.UploadService",
    methods: &[
        ("StartUpload", STAFF),
        ("AppendUploadChunk", STAFF),
        ("CompleteUpload", STAFF),
    ],
};

/// `map.tts.v1.CannedResponseService`. An agent reads and renders only its
/// teams' responses: the domain's check.
pub static CANNED_RESPONSE_SERVICE: Policy = Policy {
    service: "map.tts.v1.CannedResponseService",
    methods: &[
        ("CreateCannedResponse", MANAGERS),
        ("GetCannedResponse", STAFF),
        ("ListCannedResponses", STAFF),
        ("UpdateCannedResponse", MANAGERS),
        ("DeleteCannedResponse", MANAGERS),
        ("RenderCannedResponse", STAFF),
    ],
};

/// `map.tts.v1.SlaService`: everyone who works tickets reads policies and
/// calendars, admins write them, managers and admins read the reports.
pub static SLA_SERVICE: Policy = Policy {
    service: "map.tts.v1.SlaService",
    methods: &[
        ("CreateSlaPolicy", ADMIN),
        ("ListSlaPolicies", STAFF),
        ("GetSlaPolicy", STAFF),
        ("UpdateSlaPolicy", ADMIN),
        ("CreateCalendar", ADMIN),
        ("ListCalendars", STAFF),
        ("GetCalendar", STAFF),
        ("UpdateCalendar", ADMIN),
        ("GetSlaReport", MANAGERS),
        ("ExportSlaReport", MANAGERS),
    ],
};
