//! `map.ams.v1.CategoryService` over the domain. Who may call what is
//! `policy::CATEGORY_SERVICE`.

use map_contracts::ams::v1::{self as pb, category_service_server::CategoryService};
use map_kit::{System, idempotency::Idempotent, wire::field_mask::update_paths};
use tonic::{Request, Response, Status};

use crate::categories::{Categories, CategoryFields, UPDATE_PATHS, to_proto};

const CREATE: &str = "map.ams.v1.CategoryService/CreateCategory";

/// The handlers of CategoryService.
#[derive(Debug, Clone)]
pub struct CategoryApi {
    categories: Categories,
}

impl CategoryApi {
    /// Handlers over `categories`.
    pub fn new(categories: Categories) -> Self {
        CategoryApi { categories }
    }
}

#[tonic::async_trait]
impl CategoryService for CategoryApi {
    async fn create_category(
        &self,
        request: Request<pb::CreateCategoryRequest>,
    ) -> Result<Response<pb::CreateCategoryResponse>, Status> {
        let r = request.into_inner();
        let key = Idempotent::new(System::Ams, "request_id", &r.request_id, CREATE, &r)?;
        let fields = CategoryFields {
            name: r.name.clone(),
            description: r.description.clone(),
            method: r.depreciation_method(),
            useful_life_months: r.useful_life_months,
            salvage_percent: r.salvage_percent,
        };
        Ok(Response::new(
            self.categories.create(&key, &r.code, fields).await?,
        ))
    }

    async fn get_category(
        &self,
        request: Request<pb::GetCategoryRequest>,
    ) -> Result<Response<pb::GetCategoryResponse>, Status> {
        let (id, code) = match request.into_inner().lookup {
            Some(pb::get_category_request::Lookup::Id(id)) => (id, String::new()),
            Some(pb::get_category_request::Lookup::Code(c)) => (String::new(), c),
            None => (String::new(), String::new()),
        };
        let category = self.categories.get(&id, &code).await?;
        Ok(Response::new(pb::GetCategoryResponse {
            category: Some(to_proto(&category)),
        }))
    }

    async fn list_categories(
        &self,
        request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        let r = request.into_inner();
        let (rows, next_page_token) = self
            .categories
            .list(&r.order_by, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListCategoriesResponse {
            categories: rows.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn update_category(
        &self,
        request: Request<pb::UpdateCategoryRequest>,
    ) -> Result<Response<pb::UpdateCategoryResponse>, Status> {
        let r = request.into_inner();
        let paths = update_paths(r.update_mask.as_ref(), &UPDATE_PATHS)?;
        let c = r.category.unwrap_or_default();
        let fields = CategoryFields {
            name: c.name.clone(),
            description: c.description.clone(),
            method: c.depreciation_method(),
            useful_life_months: c.useful_life_months,
            salvage_percent: c.salvage_percent,
        };
        let category = self
            .categories
            .update(&c.id, &c.etag, &paths, fields)
            .await?;
        Ok(Response::new(pb::UpdateCategoryResponse {
            category: Some(to_proto(&category)),
        }))
    }
}
