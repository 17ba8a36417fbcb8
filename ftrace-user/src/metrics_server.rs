//! `hist --serve`'s HTTP endpoint on the session's tokio runtime: `GET /metrics`
//! answered with the text the render function makes at that request (the
//! aggregators' maps are read then, never in a loop), 404 for other paths, 405 for
//! other methods. One connection at a time is served per accepted socket, each on its
//! own task.

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::CONTENT_TYPE,
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::net::TcpListener;

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Makes the `/metrics` body, or says why it could not.
pub type Render = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// OpenMetrics' content type, which Prometheus asks for.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `addr` (before the session starts, so a taken port fails at once).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

fn respond(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

async fn answer(
    request: Request<Incoming>,
    render: Render,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() != "/metrics" {
        return Ok(respond(
            StatusCode::NOT_FOUND,
            "only /metrics is served\n".into(),
        ));
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "GET /metrics\n".into(),
        ));
    }
    Ok(match render() {
        Ok(text) => {
            let mut response = respond(StatusCode::OK, text);
            response.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(OPENMETRICS),
            );
            response
        }
        Err(why) => respond(StatusCode::INTERNAL_SERVER_ERROR, format!("{why}\n")),
    })
}

/// Accepts connections until the task is dropped; a connection that fails is closed
/// and the others go on.
pub async fn serve(listener: TcpListener, render: Render) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let render = render.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, render.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// One HTTP/1.0 exchange with the server on a blocking thread.
    fn get(addr: SocketAddr, request: &str) -> String {
        let request = request.to_string();
        std::thread::spawn(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut out = String::new();
            stream.read_to_string(&mut out).unwrap();
            out
        })
        .join()
        .unwrap()
    }

    #[test]
    fn metrics_are_rendered_per_request_and_other_paths_refused() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let counted = calls.clone();
            let render: Render = Arc::new(move || {
                let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                Ok(format!("scrape {n}\n"))
            });
            let server = tokio::spawn(serve(listener, render));
            let ask =
                |request: &'static str| tokio::task::spawn_blocking(move || get(addr, request));
            let first = ask("GET /metrics HTTP/1.0\r\n\r\n").await.unwrap();
            assert!(first.starts_with("HTTP/1.0 200 OK\r\n"), "{first}");
            assert!(
                first.contains("content-type: application/openmetrics-text"),
                "{first}"
            );
            assert!(first.ends_with("\r\n\r\nscrape 1\n"), "{first}");
            let second = ask("GET /metrics HTTP/1.0\r\n\r\n").await.unwrap();
            assert!(second.ends_with("scrape 2\n"), "{second}");
            let other = ask("GET / HTTP/1.0\r\n\r\n").await.unwrap();
            assert!(other.starts_with("HTTP/1.0 404"), "{other}");
            let post = ask("POST /metrics HTTP/1.0\r\n\r\n").await.unwrap();
            assert!(post.starts_with("HTTP/1.0 405"), "{post}");
            server.abort();
        });
    }
}
