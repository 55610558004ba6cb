//! Builds the application and binds its listener (port 0 in tests).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{ResourceDef, Server, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::{
    from_fn, Compress, Condition, DefaultHeaders, ErrorHandlerResponse, ErrorHandlers, Logger,
};
use actix_web::{web, App, HttpRequest, HttpServer};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::auth::Authenticator;
use crate::cache::ResponseCache;
use crate::config::Config;
use crate::db::Database;
use crate::error::{problem_response, ApiError, PROBLEM_JSON};
use crate::middleware::{self, CachePolicy, RequestLimits};
use crate::notify::delivery::Dispatcher;
use crate::notify::stream::ChangeStreams;
use crate::{api, openapi, pages};

pub struct Application {
    server: Server,
    port: u16,
    /// The webhook workers, stopped once the server has stopped.
    dispatcher: Option<Arc<Dispatcher>>,
}

impl Application {
    /// Binds `config.bind` and prepares the server; `run_until_stopped` serves.
    pub fn build(config: &Config, database: Database) -> std::io::Result<Self> {
        let authenticator = Authenticator::from_config(config).map_err(std::io::Error::other)?;
        if !authenticator.writes_enabled() {
            log::warn!(
                "no JWT_SECRET, JWT_JWKS_URL, JWT_JWKS_FILE or JWT_PUBLIC_KEY_FILE: the service is read-only, every write answers 503"
            );
        }
        let authenticator = web::Data::new(authenticator);
        let body_limit = usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX);
        let listener = TcpListener::bind(&config.bind)?;
        let port = listener.local_addr()?.port();
        let document = openapi::document();
        let routes = web::Data::new(RouteTable::new(&document));
        // Serialised once and shared: the document itself (several MiB of schema objects) is
        // dropped here rather than kept by every worker.
        let openapi_json = web::Bytes::from(serde_json::to_vec(&document).map_err(std::io::Error::other)?);
        let plan_schema = openapi::json_schema(&document, "PlanDocument", api::imports::PLAN_SCHEMA_PATH);
        let plan_schema = web::Data::new(api::imports::PlanSchema(web::Bytes::from(
            serde_json::to_vec(&plan_schema).map_err(std::io::Error::other)?,
        )));
        drop(document);
        let streams = web::Data::new(ChangeStreams::start(
            database.clone(),
            usize::try_from(config.stream_max_clients).unwrap_or(usize::MAX),
            Duration::from_secs(config.stream_heartbeat_secs),
        ));
        let delivery = config.delivery_settings();
        let targets = web::Data::new(api::webhooks::TargetPolicy {
            allow_private: delivery.allow_private,
        });
        let dispatcher = (delivery.workers > 0).then(|| Arc::new(Dispatcher::start(database.clone(), delivery)));
        let stopped_dispatcher = dispatcher.clone();
        let database = web::Data::new(database);
        let signalled_streams = streams.clone();
        let cache_policy = web::Data::new(CachePolicy {
            max_age_secs: config.cache_max_age_secs,
        });
        let response_cache = web::Data::new(ResponseCache::new(
            config.response_cache_mib.saturating_mul(1024 * 1024),
        ));
        let cors_config = config.clone();
        let request_limits = web::Data::new(RequestLimits::from_config(config));
        let public_base_url = web::Data::new(crate::api::PublicBaseUrl(config.public_base_url.clone()));
        let access_log = log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(middleware::head_as_get))
                .wrap(from_fn(middleware::conditional_get))
                .wrap(ErrorHandlers::new().default_handler(problem_for_framework_error))
                .wrap(from_fn(middleware::limits))
                .wrap(middleware::cors(&cors_config))
                .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
                .wrap(Compress::default())
                .wrap(from_fn(middleware::cached_reads))
                // The access log, outermost so it sees cache hits too; not even built when its
                // level is off (rendering it costs every request).
                .wrap(Condition::new(access_log, Logger::new(r#"%a "%r" %s %b %Dms"#)))
                .app_data(database.clone())
                .app_data(streams.clone())
                .app_data(routes.clone())
                .app_data(cache_policy.clone())
                .app_data(response_cache.clone())
                .app_data(request_limits.clone())
                .app_data(authenticator.clone())
                .app_data(plan_schema.clone())
                .app_data(public_base_url.clone())
                .app_data(targets.clone())
                .app_data(web::PayloadConfig::new(body_limit))
                .app_data(web::PathConfig::default().error_handler(|error, request| {
                    // `/plans/import` fits `/plans/{id}` too: another method on it is a 405, not a bad id.
                    let literal = request.app_data::<web::Data<RouteTable>>().and_then(|routes| {
                        routes
                            .literal(request.path())
                            .map(|_| routes.allowed(request.path()).unwrap_or_default())
                    });
                    match literal {
                        Some(allowed) => ApiError::MethodNotAllowed {
                            method: request.method().to_string(),
                            allowed,
                        }
                        .into(),
                        None => ApiError::bad_request("path", format!("ids and years are integers: {error}")).into(),
                    }
                }))
                .into_utoipa_app()
                .configure(api::configure)
                .into_app()
                .configure(pages::configure)
                .route(openapi::DOCUMENT_PATH, web::get().to(serve_openapi))
                .app_data(web::Data::new(OpenApiJson(openapi_json.clone())))
                .service(
                    SwaggerUi::new(format!("{}{{_:.*}}", openapi::SWAGGER_UI_PATH))
                        .config(SwaggerConfig::from(openapi::DOCUMENT_PATH)),
                )
                .default_service(web::to(no_route))
        })
        .client_request_timeout(Duration::from_secs(config.client_timeout_secs))
        .client_disconnect_timeout(Duration::from_secs(config.client_timeout_secs))
        .max_connections(usize::try_from(config.max_connections).unwrap_or(usize::MAX))
        // Per worker: more threads than connections would only wait for one (each costs a stack
        // and, under load, scheduler time); `Database::run` bounds the wait for a thread.
        .worker_max_blocking_threads(usize::try_from(config.pool_size).unwrap_or(usize::MAX))
        .shutdown_timeout(config.shutdown_grace_secs)
        // A client that closes its side has gone: its change stream ends now, not at the next write.
        .h1_allow_half_closed(false)
        // SIGTERM or SIGINT stops gracefully, and first tells the change streams, which never
        // finish by themselves, to close.
        .shutdown_signal(async move {
            stop_signal().await;
            signalled_streams.shut_down();
            if let Some(dispatcher) = stopped_dispatcher {
                dispatcher.signal_stop();
            }
        })
        .listen(listener)?;
        if let Some(workers) = config.workers {
            server = server.workers(workers);
        }
        Ok(Application {
            server: server.run(),
            port,
            dispatcher,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped (SIGTERM, SIGINT), then lets the webhook workers record their attempts
    /// in flight and stop; also when this future is dropped instead (a test's runtime ending).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let _workers = StopOnDrop(self.dispatcher);
        self.server.await
    }
}

/// Stops the webhook workers (and waits for them) when dropped.
struct StopOnDrop(Option<Arc<Dispatcher>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(dispatcher) = &self.0 {
            dispatcher.stop();
        }
    }
}

/// The OpenAPI document as served at `/openapi.json`.
struct OpenApiJson(web::Bytes);

async fn serve_openapi(document: web::Data<OpenApiJson>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(document.0.clone())
}

/// The methods each documented path answers: tells a 405 from a 404.
pub struct RouteTable(Vec<(ResourceDef, Vec<Method>)>);

impl RouteTable {
    fn new(document: &serde_json::Value) -> Self {
        let routes = document["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, item)| {
                let methods = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE]
                    .into_iter()
                    .filter(|method| item.get(method.as_str().to_ascii_lowercase()).is_some())
                    .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .chain(pages::PATHS.map(|path| (ResourceDef::new(path), vec![Method::GET])))
            .collect();
        RouteTable(routes)
    }

    /// The methods of the documented path that `path` is; a literal path (`/plans/import`) before
    /// a pattern it also fits (`/plans/{id}`).
    fn allowed(&self, path: &str) -> Option<String> {
        self.literal(path)
            .or_else(|| self.0.iter().find(|(def, _)| def.is_match(path)))
            .map(|(_, methods)| methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", "))
    }

    fn literal(&self, path: &str) -> Option<&(ResourceDef, Vec<Method>)> {
        self.0.iter().find(|(def, _)| def.pattern() == Some(path))
    }
}

/// Nothing matched: a known path with another method is a 405, anything else a 404.
async fn no_route(request: HttpRequest, routes: web::Data<RouteTable>) -> Result<actix_web::HttpResponse, ApiError> {
    Err(match routes.allowed(request.path()) {
        Some(allowed) => ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allowed,
        },
        None => ApiError::NoRoute {
            path: request.path().chars().take(200).collect(),
        },
    })
}

/// Errors that actix raises itself (a body too large, a bad header) become problem documents too.
fn problem_for_framework_error<B>(response: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // A problem document, or a page's own error page, is already what the client should see.
    let is_answered = response.headers().get(header::CONTENT_TYPE).is_some_and(|value| {
        value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()) || value.as_bytes().starts_with(b"text/html")
    });
    if is_answered {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    let status = response.status();
    let detail = match response.response().error() {
        Some(error) if status.is_client_error() => error.to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let (request, _) = response.into_parts();
    let problem = problem_response(status, detail, Vec::new());
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(request, problem).map_into_right_body(),
    ))
}

/// Resolves on SIGTERM or SIGINT.
async fn stop_signal() {
    let interrupt = Box::pin(actix_web::rt::signal::ctrl_c());
    #[cfg(unix)]
    {
        use actix_web::rt::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            futures_util::future::select(interrupt, Box::pin(terminate.recv())).await;
            return;
        }
    }
    let _ = interrupt.await;
}
