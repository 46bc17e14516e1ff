//! Who may call each RPC of AMS: one table per service, enforced by
//! map-kit's authentication layer in front of the handlers. Deny by
//! default: an RPC missing here is refused. Viewers read, managers write;
//! any signed-in person lists the assets they hold (ListMyAssets).

use map_kit::{
    System,
    authz::{Access, Policy},
};

/// Who reads the register.
const READ: Access = Access::AnyRole(&[(System::Ams, "viewer"), (System::Ams, "manager")]);
/// Who changes it.
const WRITE: Access = Access::AnyRole(&[(System::Ams, "manager")]);

/// `map.ams.v1.CategoryService`.
pub static CATEGORY_SERVICE: Policy = Policy {
    service: "map.ams.v1.CategoryService",
    methods: &[
        ("CreateCategory", WRITE),
        ("GetCategory", READ),
        ("ListCategories", READ),
        ("UpdateCategory", WRITE),
    ],
};

/// `map.ams.v1.AssetService`.
pub static ASSET_SERVICE: Policy = Policy {
    service: "map.ams.v1.AssetService",
    methods: &[
        ("CreateAsset", WRITE),
        ("GetAsset", READ),
        ("ListMyAssets", Access::User),
        ("ListAssets", READ),
        ("UpdateAsset", WRITE),
        ("CheckOutAsset", WRITE),
        ("CheckInAsset", WRITE),
        ("TransferAsset", WRITE),
        ("SendToRepair", WRITE),
        ("DisposeAsset", WRITE),
        ("RetireAsset", WRITE),
        ("ReportAssetLost", WRITE),
        ("CorrectAssetCost", WRITE),
        ("AddMaintenanceRecord", WRITE),
        ("ListMaintenanceRecords", READ),
        ("ListAssetTransactions", READ),
        ("GetDepreciationSchedule", READ),
        ("ImportAssets", WRITE),
    ],
};

/// `map.ams.v1.UploadService`: managers upload the CSV files they import.
pub static UPLOAD_SERVICE: Policy = Policy {
    service: "map.ams.v1.UploadService",
    methods: &[
        ("StartUpload", WRITE),
        ("AppendUploadChunk", WRITE),
        ("CompleteUpload", WRITE),
    ],
};
