//! Who may call each RPC of HDTS: one table per service, enforced by
//! map-kit's authentication layer in front of the handlers. Deny by
//! default: an RPC missing here is refused. Which tickets an employee sees
//! (their own) is the domain's business, not the table's.

use map_kit::{
    System,
    authz::{Access, Policy},
};

/// Anyone who uses the help desk.
const PEOPLE: Access = Access::AnyRole(&[
    (System::Hdts, "employee"),
    (System::Hdts, "agent"),
    (System::Hdts, "admin"),
]);
/// Employees and agents working tickets.
const TICKETS: Access = Access::AnyRole(&[(System::Hdts, "employee"), (System::Hdts, "agent")]);
/// The catalogue's managers.
const ADMIN: Access = Access::AnyRole(&[(System::Hdts, "admin")]);

/// `map.hdts.v1.UploadService`: anyone who uses the help desk uploads
/// (only the uploader appends, completes or attaches: the domain's rule).
pub static UPLOAD_SERVICE: Policy = Policy {
    service: "map.hdts.v1.UploadService",
    methods: &[
        ("StartUpload", PEOPLE),
        ("AppendUploadChunk", PEOPLE),
        ("CompleteUpload", PEOPLE),
    ],
};

/// `map.hdts.v1.HelpDeskService`.
pub static HELP_DESK_SERVICE: Policy = Policy {
    service: "map.hdts.v1.HelpDeskService",
    methods: &[
        ("SubmitTicket", TICKETS),
        ("GetTicket", TICKETS),
        ("ListTickets", TICKETS),
        ("ListReplies", TICKETS),
        ("AddReply", TICKETS),
        ("WithdrawTicket", TICKETS),
        ("ConfirmResolution", TICKETS),
        ("ReopenTicket", TICKETS),
        ("RateTicket", TICKETS),
        ("CreateHelpTopic", ADMIN),
        ("GetHelpTopic", PEOPLE),
        ("ListHelpTopics", PEOPLE),
        ("UpdateHelpTopic", ADMIN),
        ("GetAttachment", TICKETS),
    ],
};
