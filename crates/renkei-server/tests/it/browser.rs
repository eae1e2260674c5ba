//! The pages in a real browser: Debian's headless Chromium driven through
//! chromedriver (WebDriver). `scripts/test` installs both; without them
//! these tests fail, naming what is missing, rather than skip.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use renkei_core::Role;
use renkei_store::testing::TestBackend;

use crate::helpers::{PASSWORD, spawn_app};

/// A chromedriver process on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver_path() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned())
}

fn chromium_path() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

fn start_driver() -> Driver {
    let path = chromedriver_path();
    assert!(
        std::path::Path::new(&path).exists() && std::path::Path::new(&chromium_path()).exists(),
        "browser tests need Debian's chromium and chromium-driver ({path}, {}); scripts/test installs them",
        chromium_path()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {path}: {e}"));
    Driver { child, port }
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": chromium_path(),
            // The flags the machine's probe found necessary: no sandbox as
            // root, and no background traffic to hosts this network refuses.
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=400,900",
            ]
        }),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    // chromedriver takes a moment to listen; poll its status, no fixed sleep.
    for _ in 0..100 {
        if reqwest::get(format!("{url}/status")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a browser session starts")
}

/// Waits for an element after a click: a form submission navigates
/// asynchronously, so the next page may not be there when `click` returns.
async fn settle(c: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(locator)
        .await
    {
        Ok(e) => e,
        Err(e) => panic!(
            "{e}; the page is:\n{}",
            c.source().await.unwrap_or_default()
        ),
    }
}

/// Waits until an element matching `css` says `expected`. After a click
/// that navigates, the old page's element can still be found and then go
/// stale, so the text is read again until the new page says it.
async fn settle_text(c: &Client, css: &str, expected: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(text) = e.text().await
            && text.contains(expected)
        {
            return;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "no {css} saying {expected:?}; the page is:\n{}",
                c.source().await.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn type_into(c: &Client, id: &str, text: &str) {
    let field = c.find(Locator::Id(id)).await.expect("field exists");
    field.send_keys(text).await.expect("typing");
}

async fn click(c: &Client, css: &str) {
    let button = c.find(Locator::Css(css)).await.expect("button exists");
    button.click().await.expect("click");
}

async fn page_lang(c: &Client) -> Option<String> {
    let html = c.find(Locator::Css("html")).await.expect("html");
    html.attr("lang").await.expect("attr")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_signs_in_on_a_phone_sized_browser_in_japanese() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let driver = start_driver();
    let c = browser(&driver).await;
    let user = app.creds(Role::Patient).username.clone();

    // Not signed in: sent to the sign-in page, which is in Japanese, with
    // labels tied to their fields for screen readers.
    c.goto(&app.url("/account")).await.expect("goto");
    assert_eq!(c.current_url().await.expect("url").path(), "/login");
    assert_eq!(page_lang(&c).await.as_deref(), Some("ja"));
    let label = c
        .find(Locator::Css("label[for=username]"))
        .await
        .expect("label");
    assert_eq!(label.text().await.expect("text"), "ユーザー名");

    type_into(&c, "username", &user).await;
    type_into(&c, "password", "wrong password!").await;
    click(&c, "button[type=submit]").await;
    let alert = settle(&c, Locator::Css("[role=alert]")).await;
    assert!(
        alert
            .text()
            .await
            .expect("text")
            .contains("パスワードが違います")
    );

    type_into(&c, "username", &user).await;
    type_into(&c, "password", PASSWORD).await;
    click(&c, "button[type=submit]").await;
    settle(&c, Locator::Id("token-name")).await;
    let url = c.current_url().await.expect("url");
    assert_eq!(
        url.path(),
        "/account",
        "sign-in returns to the page asked for"
    );
    let page = c.source().await.expect("source");
    assert!(page.contains(&user) && page.contains("患者"));

    // Switch to English; the choice sticks on the next page.
    click(&c, "a[hreflang=en]").await;
    settle(&c, Locator::Css("html[lang=en]")).await;
    c.goto(&app.url("/")).await.expect("goto");
    assert_eq!(page_lang(&c).await.as_deref(), Some("en"));

    // Create an API token through the form (the page carries the CSRF token).
    c.goto(&app.url("/account")).await.expect("goto");
    type_into(&c, "token-name", "laptop").await;
    click(&c, "form[action='/account/tokens'] button").await;
    let shown = settle(&c, Locator::Id("new-token")).await;
    let secret = shown.text().await.expect("text");
    assert!(secret.starts_with("rk_"));
    let resp = app
        .http
        .get(app.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await;
    let me: serde_json::Value = resp.expect("send").json().await.expect("json");
    assert_eq!(me["username"], user.as_str());

    c.close().await.expect("close browser");
    app.stop().await;
}

/// Fills the portal's identification form as a patient types it.
async fn identify_as(c: &Client, kana: &str) {
    type_into(c, "kana_name", kana).await;
    // A date input's typing order follows the browser's locale; setting
    // the value is what a date picker does.
    c.execute(
        "document.getElementById('birth_date').value = '1980-04-01';",
        vec![],
    )
    .await
    .expect("set the date");
    click(c, "input[name=sex][value=female]").await;
    type_into(c, "insurer_number", "06139999").await;
    type_into(c, "insured_symbol", "記号A").await;
    type_into(c, "insured_number", "12345678").await;
    type_into(c, "insured_branch", "01").await;
    click(c, "form[action='/patient'] button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_opts_out_and_withdraws_on_a_phone_sized_browser() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let provider = renkei_core::ProviderCode::parse("1311234567").expect("code");
    let attributes = renkei_core::IdentifyingAttributes {
        insurer_number: Some("06139999".to_owned()),
        insured_symbol: Some("記号A".to_owned()),
        insured_number: Some("12345678".to_owned()),
        insured_branch: Some("01".to_owned()),
        kana_name: Some("タカハシ ハナコ".to_owned()),
        birth_date: Some("1980-04-01".to_owned()),
        sex: Some(renkei_core::Sex::Female),
        ..Default::default()
    };
    let person = app
        .state
        .identity()
        .resolve(&provider, &attributes)
        .await
        .expect("resolve")
        .person_key;
    let driver = start_driver();
    let c = browser(&driver).await;

    // Not identified: the status page sends the patient to identify first,
    // in Japanese, every field labelled.
    c.goto(&app.url("/patient/optouts")).await.expect("goto");
    assert_eq!(c.current_url().await.expect("url").path(), "/patient");
    assert_eq!(page_lang(&c).await.as_deref(), Some("ja"));
    for (id, text) in [
        ("kana_name", "氏名（カタカナ）"),
        ("insured_branch", "枝番"),
    ] {
        let label = c
            .find(Locator::Css(&format!("label[for={id}]")))
            .await
            .expect("label");
        assert_eq!(label.text().await.expect("text"), text);
    }

    identify_as(&c, "タカハシ ハナ").await;
    let alert = settle(&c, Locator::Css("[role=alert]")).await;
    assert!(
        alert
            .text()
            .await
            .expect("text")
            .contains("一致する記録が見つかりませんでした")
    );

    identify_as(&c, "タカハシ ハナコ").await;
    settle(&c, Locator::Id("optout-form")).await;
    assert_eq!(
        c.current_url().await.expect("url").path(),
        "/patient/optouts"
    );
    assert!(
        c.source()
            .await
            .expect("source")
            .contains("オプトアウトしていません")
    );

    // Choose genomic data with the keyboard, and opt out.
    let genomic = c
        .find(Locator::Css("input[name=p_genomic]"))
        .await
        .expect("checkbox");
    genomic
        .send_keys(" ")
        .await
        .expect("space toggles the checkbox");
    assert!(genomic.is_selected().await.expect("selected"));
    click(&c, "form[action='/patient/optouts'] button[type=submit]").await;
    let done = settle(&c, Locator::Css("[role=status]")).await;
    let receipt = done
        .find(Locator::Css(".receipt"))
        .await
        .expect("receipt")
        .text()
        .await
        .expect("text");
    assert!(receipt.starts_with("OPT-"), "{receipt}");
    let page = c.source().await.expect("source");
    assert!(
        page.contains("ゲノムデータの利用") && page.contains("適用中"),
        "{page}"
    );
    let genomic_use = renkei_optout::DataUse::parse("genomic").expect("use");
    let set = app
        .state
        .optout()
        .exclusion(&genomic_use, app.state.clock().now())
        .await
        .expect("set");
    assert!(
        set.contains(&person),
        "the next extract leaves the patient out"
    );

    // Withdraw it: the button names the receipt for screen readers.
    click(&c, &format!("button[aria-label$='{receipt}']")).await;
    settle_text(&c, "[role=status]", "撤回").await;
    let set = app
        .state
        .optout()
        .exclusion(&genomic_use, app.state.clock().now())
        .await
        .expect("set");
    assert!(!set.contains(&person), "the withdrawal re-includes");
    let history = c
        .find_all(Locator::Css("td.receipt"))
        .await
        .expect("history cells");
    assert_eq!(
        history.len(),
        2,
        "the history keeps the opt-out and its withdrawal"
    );

    // English on request; then sign out.
    click(&c, "a[hreflang=en]").await;
    settle(&c, Locator::Css("html[lang=en]")).await;
    assert!(
        c.source()
            .await
            .expect("source")
            .contains("Your opt-out status")
    );
    click(&c, "form[action='/patient/signout'] button").await;
    settle(&c, Locator::Id("kana_name")).await;
    c.goto(&app.url("/patient/optouts")).await.expect("goto");
    assert_eq!(
        c.current_url().await.expect("url").path(),
        "/patient",
        "signed out"
    );

    c.close().await.expect("close browser");
    app.stop().await;
}

async fn sign_in(c: &Client, app: &crate::helpers::TestApp, role: Role, next: &str) {
    c.goto(&app.url(&format!("/login?next={next}")))
        .await
        .expect("goto");
    type_into(c, "username", &app.creds(role).username).await;
    type_into(c, "password", PASSWORD).await;
    click(c, "form[action='/login'] button[type=submit]").await;
    // The sign-in page has a heading too: wait for the page after it, or
    // a test under load reads the old page.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c
        .current_url()
        .await
        .map(|u| u.path() == "/login")
        .unwrap_or(true)
    {
        if std::time::Instant::now() > deadline {
            panic!(
                "still on /login after signing in; the page is:\n{}",
                c.source().await.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    settle(c, Locator::Css("main h1")).await;
}

/// Fills the workspace's release request: title, source query, dimensions.
async fn release_form(c: &Client, title: &str, table: &str, dimensions: &str) {
    type_into(c, "out-title", title).await;
    c.find(Locator::Css(&format!("#out-table option[value={table}]")))
        .await
        .expect("the table is offered")
        .click()
        .await
        .expect("choose the table");
    // Everyone in the table: no cohort query.
    let cohort = c.find(Locator::Id("out-cohort")).await.expect("cohort");
    cohort.clear().await.expect("clear");
    type_into(c, "out-dims", dimensions).await;
}

async fn set_date(c: &Client, id: &str, value: &str) {
    c.execute(
        &format!("document.getElementById('{id}').value = '{value}';"),
        vec![],
    )
    .await
    .expect("set a date");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applicant_submits_and_a_reviewer_votes_in_the_browser() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let driver = start_driver();
    let c = browser(&driver).await;

    // The applicant writes and submits an application.
    sign_in(&c, &app, Role::Applicant, "/applications/new").await;
    assert_eq!(
        c.current_url().await.expect("url").path(),
        "/applications/new"
    );
    type_into(&c, "title", "糖尿病治療の経過研究").await;
    type_into(&c, "org_name", "京都大学").await;
    set_date(&c, "training", "2026-04-01").await;
    type_into(&c, "purpose", "HbA1cの推移の比較").await;
    type_into(&c, "public_interest", "標準治療の改善").await;
    type_into(&c, "tables", "condition: icd10, onset_date").await;
    type_into(&c, "cohort", "2型糖尿病").await;
    type_into(&c, "cohort_icd10", "E11").await;
    set_date(&c, "period_from", "2020-01-01").await;
    set_date(&c, "period_to", "2024-12-31").await;
    type_into(&c, "outputs", "論文").await;
    type_into(&c, "security", "ISMS").await;
    type_into(&c, "funding", "科研費").await;
    click(&c, "form[action='/applications'] button[type=submit]").await;
    let state = settle(&c, Locator::Id("state")).await;
    assert_eq!(state.text().await.expect("text"), "申請済み");
    let id = c
        .current_url()
        .await
        .expect("url")
        .path()
        .trim_start_matches("/applications/")
        .to_owned();
    let id = renkei_review::ApplicationId::parse(&id).expect("application id in the URL");

    // The secretariat screens it and assigns the reviewer (API steps).
    let operator = renkei_review::Acting {
        actor: renkei_core::Actor::System {
            component: "test".to_owned(),
        },
        username: "secretariat".to_owned(),
    };
    let review = app.state.review();
    review
        .step(&operator, &id, renkei_review::Step::StartScreening, "")
        .await
        .expect("screen");
    review
        .step(
            &operator,
            &id,
            renkei_review::Step::SendToReview {
                committee: "第一".to_owned(),
            },
            "complete",
        )
        .await
        .expect("to review");
    review
        .assign(&operator, &id, &app.creds(Role::Reviewer).username)
        .await
        .expect("assign");

    // The reviewer finds it in their queue, sees the risk signals, votes.
    c.delete_all_cookies()
        .await
        .expect("sign out by forgetting cookies");
    sign_in(&c, &app, Role::Reviewer, "/applications").await;
    let link = settle(&c, Locator::LinkText("糖尿病治療の経過研究")).await;
    link.click().await.expect("open");
    settle(&c, Locator::Id("risk")).await;
    click(&c, "input[name=vote][value=reject]").await;
    type_into(&c, "comment", "対象者の条件が曖昧").await;
    click(&c, "form[action$='/votes'] button[type=submit]").await;
    let votes = settle(&c, Locator::Id("votes")).await;
    assert!(
        votes
            .text()
            .await
            .expect("text")
            .contains("対象者の条件が曖昧")
    );
    let recorded = review.votes(&id).await.expect("votes");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].vote, renkei_review::VoteKind::Reject);

    c.close().await.expect("close browser");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_researcher_requests_release_and_a_reviewer_releases_it_in_the_browser() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let (permit, _) = crate::analysis::permit_with_data(&app).await;
    crate::analysis::build_extract(&app, &permit).await;
    let driver = start_driver();
    let c = browser(&driver).await;

    // The researcher opens the permit's workspace and runs a query with a chart.
    sign_in(&c, &app, Role::Applicant, "/workspaces").await;
    let link = settle(&c, Locator::LinkText("糖尿病の研究")).await;
    link.click().await.expect("open the workspace");
    let editor = settle(&c, Locator::Id("sql")).await;
    editor.clear().await.expect("clear");
    editor
        .send_keys("SELECT icd10, count(DISTINCT pseudonym) AS persons FROM condition GROUP BY icd10 ORDER BY icd10")
        .await
        .expect("type SQL");
    c.find(Locator::Css("#chart option[value=bar]"))
        .await
        .expect("bar option")
        .click()
        .await
        .expect("choose bar");
    click(&c, "#run").await;
    let result = settle(&c, Locator::Id("result")).await;
    let text = result.text().await.expect("text");
    assert!(text.contains("E11.9") && text.contains("15"), "{text}");
    let bars = c
        .find_all(Locator::Css("svg.chart rect.bar"))
        .await
        .expect("bars");
    assert_eq!(bars.len(), 2, "one bar per row");

    // It asks to take out the count by type; the small cell is flagged.
    release_form(&c, "病型別の人数", "condition", "icd10").await;
    click(&c, "#request-release").await;
    let status = settle(&c, Locator::Id("status")).await;
    assert_eq!(status.text().await.expect("text"), "審査待ち");
    let suppressed = c
        .find_all(Locator::Css("#cells tr.suppressed"))
        .await
        .expect("rows");
    assert_eq!(suppressed.len(), 1);
    assert!(
        suppressed[0].text().await.expect("text").contains("その他"),
        "the cell of 3 persons is suppressed, under その他: too few to show E11.2"
    );
    let output_path = c.current_url().await.expect("url").path().to_owned();

    // The reviewer releases it with reasons.
    c.delete_all_cookies().await.expect("sign out");
    sign_in(&c, &app, Role::Reviewer, "/outputs").await;
    let link = settle(&c, Locator::LinkText("病型別の人数")).await;
    link.click().await.expect("open the output");
    settle(&c, Locator::Id("decide")).await;
    click(&c, "input[name=decision][value=release]").await;
    type_into(&c, "reason-text", "集計表のみ。最小セル数を確認。").await;
    click(&c, "#decide button[type=submit]").await;
    let status = settle(&c, Locator::Id("download")).await;
    assert!(status.text().await.expect("text").contains("CSV"));
    assert_eq!(c.current_url().await.expect("url").path(), output_path);

    // The public register lists it, and its table hides the small cell.
    c.delete_all_cookies().await.expect("sign out");
    c.goto(&app.url("/register")).await.expect("register");
    let outputs = settle(&c, Locator::Id("outputs")).await;
    assert!(outputs.text().await.expect("text").contains("病型別の人数"));
    let href = c
        .find(Locator::Css("#outputs a"))
        .await
        .expect("download link")
        .attr("href")
        .await
        .expect("href")
        .expect("a link");
    let csv = app
        .http
        .get(app.url(&href))
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    assert_eq!(
        csv, "icd10,persons\nE11.9,15\nその他,X\n",
        "categories in order, the rare one as その他"
    );

    c.close().await.expect("close browser");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_researcher_asks_for_a_noisy_table_in_the_browser() {
    let app =
        crate::helpers::spawn_app_with(TestBackend::Sqlite, crate::analysis::with_dp_budget).await;
    let (permit, _) = crate::analysis::permit_with_data(&app).await;
    crate::analysis::build_extract(&app, &permit).await;
    let driver = start_driver();
    let c = browser(&driver).await;

    sign_in(&c, &app, Role::Applicant, &format!("/workspaces/{permit}")).await;
    // The platform has a budget: the page offers noise and says what is left.
    let fieldset = settle(&c, Locator::Id("noisy")).await;
    assert!(
        fieldset.text().await.expect("text").contains("ε = 1"),
        "the budget is shown"
    );
    release_form(&c, "病型別（ノイズ付き）", "condition", "icd10").await;
    type_into(&c, "out-epsilon", "0.5").await;
    type_into(&c, "out-categories", "E11.2, E11.9, E10").await;
    click(&c, "#request-release").await;
    // The output page says noise will be added, and how much ε it spends.
    settle_text(&c, "#noise-note", "ε = 0.5").await;
    let suppressed = c
        .find_all(Locator::Css("#cells tr.suppressed"))
        .await
        .expect("rows");
    assert!(suppressed.is_empty(), "noise, not suppression");
    let rows = c
        .find_all(Locator::Css("#cells tbody tr"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 3, "every listed category, E10 too");
}
