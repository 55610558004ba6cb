//! The benchmark's ceiling: an actix-web server that answers fixed paths with fixed bytes from memory.
//!
//! `bench/run` captures what the real service answered for each benchmarked request and starts
//! `ceiling <dir> <port>`. `<dir>/index.tsv` has one line per response:
//! `<path and query>\t<content type>\t<file under dir holding the body>`.
//! Every request is then one hash lookup and a reference-counted copy of the body: no database, no
//! serialisation, no middleware. No actix-web service can answer the same bytes faster on this
//! machine, so the service's throughput is reported as a fraction of this one's.

use std::collections::HashMap;
use std::path::Path;

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};

struct Canned {
    content_type: HeaderValue,
    body: Bytes,
}

/// Responses keyed by the request target exactly as the client sends it (path plus raw query).
type Responses = HashMap<String, Canned>;

fn load(dir: &Path) -> std::io::Result<Responses> {
    let index = std::fs::read_to_string(dir.join("index.tsv"))?;
    let mut responses = Responses::new();
    for line in index.lines().filter(|line| !line.is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [target, content_type, file] = fields[..] else {
            return Err(std::io::Error::other(format!(
                "index.tsv: expected 3 tab-separated fields: {line}"
            )));
        };
        let content_type = HeaderValue::from_str(content_type).map_err(std::io::Error::other)?;
        let body = Bytes::from(std::fs::read(dir.join(file))?);
        responses.insert(target.to_owned(), Canned { content_type, body });
    }
    Ok(responses)
}

async fn answer(request: HttpRequest, responses: web::Data<Responses>) -> HttpResponse {
    let target = request.uri().path_and_query().map_or("/", |target| target.as_str());
    match responses.get(target) {
        Some(canned) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, canned.content_type.clone()))
            .body(canned.body.clone()),
        None => HttpResponse::NotFound().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(port)) = (args.next(), args.next()) else {
        eprintln!("usage: ceiling <dir with index.tsv> <port>");
        std::process::exit(2);
    };
    let port: u16 = port.parse().map_err(std::io::Error::other)?;
    let responses = web::Data::new(load(Path::new(&dir))?);
    eprintln!("ceiling: {} responses on 127.0.0.1:{port}", responses.len());
    HttpServer::new(move || App::new().app_data(responses.clone()).default_service(web::to(answer)))
        .bind(("127.0.0.1", port))?
        .run()
        .await
}
