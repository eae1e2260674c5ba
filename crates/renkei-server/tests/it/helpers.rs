//! Starting the real server for a test (in the manner of zero2prod's
//! `spawn_app`): port 0 on loopback, fresh stores, one account and one API
//! token and one page session per role.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use renkei_core::{Clock, Role, SystemClock};
use renkei_server::accounts::{NewUser, Password};
use renkei_server::{AppState, Config};
use renkei_store::testing::{TestBackend, test_config};

pub const PASSWORD: &str = "correct horse battery";

/// One role's credentials.
#[derive(Debug, Clone)]
pub struct Creds {
    pub username: String,
    pub token: String,
    pub session: String,
}

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub http: reqwest::Client,
    pub creds: HashMap<Role, Creds>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub _dir: tempfile::TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn creds(&self, role: Role) -> &Creds {
        &self.creds[&role]
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
        self.state.close().await;
    }
}

pub async fn spawn_app(backend: TestBackend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: TestBackend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_clocked(backend, tweak, Arc::new(SystemClock)).await
}

/// [`spawn_app_with`] on a clock of the test's (a `FixedClock` it moves).
pub async fn spawn_app_clocked(
    backend: TestBackend,
    tweak: impl FnOnce(&mut Config),
    clock: Arc<dyn Clock>,
) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        // Several tests share the process; only the first one installs it.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,sqlx=warn,hyper=info")
            .with_test_writer()
            .try_init();
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        store: test_config(backend),
        ..Config::default()
    };
    config.server.listen = "127.0.0.1:0".parse().expect("address");
    tweak(&mut config);
    let state = AppState::open(config, clock).await.expect("platform opens");
    let mut creds = HashMap::new();
    for role in Role::ALL {
        let username = format!("{}-user", role.as_str());
        let user = state
            .accounts()
            .create_user(
                &setup(),
                NewUser {
                    username: username.clone(),
                    display_name: format!("{} テスト", role.label_ja()),
                    role,
                    org_id: None,
                    password: Some(Password::new(PASSWORD.to_owned()).expect("long enough")),
                },
            )
            .await
            .expect("create user");
        let (_, token) = state
            .accounts()
            .create_token(&user, "test")
            .await
            .expect("token");
        let (session, _) = state
            .accounts()
            .create_session(&user, 1)
            .await
            .expect("session");
        creds.insert(
            role,
            Creds {
                username,
                token: token.expose().to_owned(),
                session: session.expose().to_owned(),
            },
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(renkei_server::serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        addr,
        state,
        http,
        creds,
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

/// The body of `GET url` as text.
pub async fn get_text(http: &reqwest::Client, url: &str) -> String {
    let resp = http.get(url).send().await.expect("request sent");
    resp.text().await.expect("body is text")
}

/// Asserts a response is an RFC 9457 problem with `status`, returns it.
pub async fn problem(resp: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "unexpected status");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ct, "application/problem+json", "not a problem document");
    let body: serde_json::Value = resp.json().await.expect("problem is JSON");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string());
    body
}

/// Runs a test body on both backends, against a fresh server each.
#[macro_export]
macro_rules! app_test {
    (async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app =
                    $crate::helpers::spawn_app(renkei_store::testing::TestBackend::Sqlite).await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app =
                    $crate::helpers::spawn_app(renkei_store::testing::TestBackend::Postgres).await;
                $body
            }
        }
    };
}

/// The test harness, as the audit log names whoever set a test up.
pub(crate) fn setup() -> renkei_core::Actor {
    renkei_core::Actor::System {
        component: "test".to_owned(),
    }
}
