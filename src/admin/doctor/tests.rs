//! Unit tests of `doctor`: the profile, desktop, web-search, legacy-profile and catalog checks
//! on prepared Codex homes, each problem split into what is wrong and how to fix it, and the
//! JSON report's shape.

use super::*;

/// A temp `CODEX_HOME` and the config that uses it (bridge on the default 127.0.0.1:8403).
struct Home {
    dir: tempfile::TempDir,
    config: Config,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_string_lossy().into_owned();
        let env = crate::config::EnvOverrides {
            codex_home: Some(path.clone()),
            home: Some(path),
            ..Default::default()
        };
        let config = crate::config::resolve(
            crate::config::FileConfig::default(),
            None,
            &env,
            &crate::config::CliOverrides::default(),
        )
        .expect("config");
        Home { dir, config }
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).expect("write");
    }

    fn profile(&self, text: &str) {
        self.write("clawrouter.config.toml", text);
    }

    fn config_toml(&self, text: &str) {
        self.write("config.toml", text);
    }

    fn catalog(&self) -> String {
        codex_config::catalog_path(&self.config)
            .to_string_lossy()
            .into_owned()
    }

    /// Creates the catalog `gen-catalog` would write.
    fn with_catalog(self) -> Home {
        self.write(CATALOG, "{\"models\":[{\"slug\":\"blockrun/auto\"}]}");
        self
    }

    /// What `setup` writes in the profile, with `extra` appended to the provider table.
    fn good_profile(&self, extra: &str) -> String {
        format!(
            "model = \"blockrun/auto\"\nmodel_provider = \"clawrouter\"\n\
             model_catalog_json = {:?}\n\n[model_providers.clawrouter]\n\
             name = \"ClawRouter\"\nbase_url = \"http://127.0.0.1:8403/v1\"\n\
             wire_api = \"responses\"\n{extra}",
            self.catalog()
        )
    }
}

const CATALOG: &str = "clawrouter-catalog.json";

#[test]
fn problems_split_into_what_and_fix() {
    assert_eq!(
        split_problem("a: b has no c: run `clawrouter-codex setup`"),
        ("a: b has no c", Some("run `clawrouter-codex setup`"))
    );
    assert_eq!(split_problem("no command here"), ("no command here", None));
    let c = failed_with(
        "profile",
        "",
        &[
            "x is wrong: run `clawrouter-codex setup`".to_owned(),
            "y is wrong: run `clawrouter-codex setup`".to_owned(),
            "z is missing: run `clawrouter-codex gen-catalog` (with the bridge up)".to_owned(),
            "w".to_owned(),
        ],
        "do the default",
    );
    assert!(!c.ok);
    assert_eq!(c.detail, "x is wrong; y is wrong; z is missing; w");
    assert_eq!(
        c.fix.as_deref(),
        Some(
            "run `clawrouter-codex setup`, then run `clawrouter-codex gen-catalog` \
             (with the bridge up), then do the default"
        )
    );
}

#[test]
fn profile_check() {
    let h = Home::new().with_catalog();
    let missing = check_profile(&h.config);
    assert!(
        !missing.ok && missing.detail.ends_with("does not exist"),
        "{missing:?}"
    );
    assert_eq!(
        missing.fix.as_deref(),
        Some("run `clawrouter-codex setup` to write it")
    );

    h.profile(&h.good_profile(""));
    let ok = check_profile(&h.config);
    assert!(ok.ok, "{ok:?}");
    assert!(ok.detail.contains("model blockrun/auto"), "{ok:?}");
    assert!(ok.detail.contains("codex --profile clawrouter"), "{ok:?}");

    let no_catalog = "model_provider = \"clawrouter\"\n[model_providers.clawrouter]\n\
                      base_url = \"http://127.0.0.1:8403/v1\"\nwire_api = \"responses\"\n";
    h.profile(no_catalog);
    let bad = check_profile(&h.config);
    assert!(
        !bad.ok && bad.detail.contains("model_catalog_json"),
        "{bad:?}"
    );
    assert_eq!(bad.fix.as_deref(), Some("run `clawrouter-codex setup`"));

    // Stricter than profile_state: an existing catalog that is not ours.
    let other = h.dir.path().join("other.json");
    std::fs::write(&other, "{\"models\":[]}").expect("write");
    h.profile(
        &h.good_profile("")
            .replace(&format!("{:?}", h.catalog()), &format!("{other:?}")),
    );
    let elsewhere = check_profile(&h.config);
    assert!(
        !elsewhere.ok && elsewhere.detail.contains("uses the catalog"),
        "{elsewhere:?}"
    );

    // profile_state's own checks: exact base_url, wire_api.
    for (from, to, says) in [
        (
            "127.0.0.1:8403",
            "127.0.0.1:1",
            "does not point at this bridge",
        ),
        (
            "127.0.0.1:8403/v1",
            "localhost:8403/v1",
            "does not point at this bridge",
        ),
        (
            "wire_api = \"responses\"",
            "wire_api = \"chat\"",
            "wire_api",
        ),
        (
            "\"clawrouter\"\nmodel_catalog",
            "\"openai\"\nmodel_catalog",
            "model_provider",
        ),
    ] {
        h.profile(&h.good_profile("").replace(from, to));
        let c = check_profile(&h.config);
        assert!(!c.ok && c.detail.contains(says), "{to}: {c:?}");
        assert!(
            !c.detail.contains(": run `"),
            "fix kept out of the detail: {c:?}"
        );
    }

    // Every problem is listed, each fix once.
    h.profile("model_provider = \"openai\"\nmodel_catalog_json = \"/nowhere/c.json\"\n");
    let many = check_profile(&h.config);
    assert!(!many.ok);
    assert_eq!(many.detail.matches("; ").count(), 3, "{many:?}");
    assert_eq!(
        many.fix.as_deref(),
        Some(
            "run `clawrouter-codex setup`, then run `clawrouter-codex gen-catalog` \
             (with the bridge up)"
        )
    );

    h.profile("model = [\n");
    let broken = check_profile(&h.config);
    assert!(!broken.ok, "{broken:?}");
    assert!(
        broken.detail.contains("is not valid TOML: line"),
        "{broken:?}"
    );
    assert!(!broken.detail.contains("nothing was changed"), "{broken:?}");
    assert!(
        broken
            .fix
            .as_deref()
            .is_some_and(|f| f.starts_with("fix or delete")),
        "{broken:?}"
    );
}

#[test]
fn desktop_check() {
    let h = Home::new().with_catalog();
    let none = check_desktop(&h.config);
    assert!(
        none.ok && none.detail.starts_with("off (no config.toml"),
        "{none:?}"
    );

    h.config_toml("model = \"gpt-5.5\"\n");
    let off = check_desktop(&h.config);
    assert!(off.ok && off.detail.starts_with("off: "), "{off:?}");
    assert!(
        off.detail.contains("native default (model gpt-5.5)"),
        "{off:?}"
    );

    h.config_toml("model_provider = \"ollama\"\n");
    let other = check_desktop(&h.config);
    assert!(
        other.ok && other.detail.contains("provider `ollama`"),
        "{other:?}"
    );

    h.config_toml(&h.good_profile("requires_openai_auth = true\n"));
    let on = check_desktop(&h.config);
    assert!(on.ok && on.detail.starts_with("on: "), "{on:?}");

    // On, but Codex Desktop would hide the models: a failure now (doctor used to pass).
    h.config_toml(&h.good_profile(""));
    let broken_on = check_desktop(&h.config);
    assert!(!broken_on.ok, "{broken_on:?}");
    assert!(broken_on.detail.starts_with("on, but "), "{broken_on:?}");
    assert!(
        broken_on.detail.contains("requires_openai_auth"),
        "{broken_on:?}"
    );
    assert_eq!(
        broken_on.fix.as_deref(),
        Some("run `clawrouter-codex desktop on`")
    );

    h.config_toml("model = \n");
    let unparsable = check_desktop(&h.config);
    assert!(!unparsable.ok && unparsable.detail.contains("not valid TOML"));
    assert!(unparsable
        .fix
        .as_deref()
        .is_some_and(|f| f.starts_with("repair ")));
}

#[test]
fn websearch_check() {
    let h = Home::new().with_catalog();
    let off = check_websearch(&h.config);
    assert!(off.ok && off.detail.starts_with("off"), "{off:?}");

    let header = "http_headers = { \"x-web-search\" = \"1\" }\n";
    h.profile(&h.good_profile(header));
    let on = check_websearch(&h.config);
    assert!(on.ok && on.detail.starts_with("on (the profile"), "{on:?}");

    // config.toml's header counts only in desktop mode.
    h.profile(&h.good_profile(""));
    h.config_toml(&format!(
        "model = \"gpt-5.5\"\n[model_providers.clawrouter]\n{header}"
    ));
    let ignored = check_websearch(&h.config);
    assert!(
        ignored.ok && ignored.detail.starts_with("off"),
        "{ignored:?}"
    );
    h.config_toml(&h.good_profile(&format!("requires_openai_auth = true\n{header}")));
    let desktop = check_websearch(&h.config);
    assert!(
        desktop.ok && desktop.detail.contains("desktop mode"),
        "{desktop:?}"
    );

    h.profile("model_providers = 3\n");
    let unknown = check_websearch(&h.config);
    assert!(
        !unknown.ok && unknown.detail.starts_with("unknown: "),
        "{unknown:?}"
    );
}

#[test]
fn legacy_check() {
    let h = Home::new();
    assert!(check_legacy(&h.config).ok);
    h.config_toml("model = \"gpt-5.5\"\n\n[profiles.clawrouter]\nmodel = \"x\"\n");
    let table = check_legacy(&h.config);
    assert!(!table.ok, "{table:?}");
    assert!(table.detail.contains("refuses to start"), "{table:?}");
    assert!(table.fix.as_deref().is_some_and(|f| f.contains("setup")));
    assert!(
        table
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("clawrouter.config.toml")),
        "{table:?}"
    );
    // A non-table value there counts too, and so does the selector.
    h.config_toml("profiles = { clawrouter = \"x\" }\n");
    assert!(!check_legacy(&h.config).ok);
    h.config_toml("profile = \"clawrouter\"\n");
    let selector = check_legacy(&h.config);
    assert!(
        selector.detail.contains("profile = \"clawrouter\""),
        "{selector:?}"
    );
    h.config_toml("[profiles.other]\nmodel = \"x\"\n");
    assert!(check_legacy(&h.config).ok);
    h.config_toml("broken = \n");
    assert!(check_legacy(&h.config).ok, "the desktop check reports it");
}

#[test]
fn catalog_check() {
    let dir = tempfile::tempdir().expect("dir");
    let p = dir.path().join("c.json");
    assert!(!check_catalog(&p).ok);
    std::fs::write(&p, "{\"models\":[{\"slug\":\"blockrun/auto\"}]}").expect("write");
    let c = check_catalog(&p);
    assert!(c.ok && c.detail.starts_with("1 model in"), "{c:?}");
    std::fs::write(&p, "{\"models\":[]}").expect("write");
    assert!(!check_catalog(&p).ok);
    std::fs::write(&p, "nope").expect("write");
    assert!(!check_catalog(&p).ok);
}

#[test]
fn json_shape() {
    let v = to_json(
        &[
            Check::pass("a", "fine"),
            Check::fail("b", "broken", "do this"),
        ],
        None,
    );
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["code"], "checks_failed");
    assert_eq!(
        v["error"]["message"],
        "1 of 2 checks failed: b (each failed check has its fix)"
    );
    assert_eq!(v["error"]["checks"][0]["fix"], Value::Null);
    assert_eq!(v["error"]["checks"][1]["fix"], "do this");
    assert_eq!(v["error"]["checks"][1]["name"], "b");
    assert!(v.get("data").is_none());
    let v = to_json(
        &[Check::pass("a", "fine")],
        Some("http://x/dashboard".into()),
    );
    assert_eq!(v["ok"], true);
    assert_eq!(v["data"]["checks"][0]["name"], "a");
    assert_eq!(v["data"]["dashboard"], "http://x/dashboard");
    assert!(v.get("error").is_none());
}

/// The version check on a recorded launch (this test process stands in for the proxy).
#[test]
fn the_version_check_compares_the_recorded_launch_with_the_config() {
    let mut home = Home::new();
    let target = ProxyTarget {
        origin: "http://127.0.0.1:8404".into(),
        health_url: "http://127.0.0.1:8404/health".into(),
        models_url: "http://127.0.0.1:8404/v1/models".into(),
        is_clawrouter: Some(true),
    };
    let path = proxy_version::record_path(&home.config).expect("HOME");
    let record = |command: &str, pinned: bool| {
        let launch = proxy_version::Launch {
            pid: std::process::id(),
            port: 8404,
            command: command.to_owned(),
            version: proxy_version::version_in_command(command),
            pinned,
        };
        proxy_version::write(&path, &launch).expect("record");
    };

    // Nothing recorded: a ClawRouter of unknown version passes, saying so.
    let c = check_proxy_version(&home.config, &target, true);
    assert!(c.ok && c.detail.contains("its version is unknown"), "{c:?}");

    record("npx -y @blockrun/clawrouter@0.12.246", true);
    let c = check_proxy_version(&home.config, &target, true);
    assert!(c.ok && c.detail.ends_with("the pinned version"), "{c:?}");
    // The proxy does not answer: the record is not believed.
    let c = check_proxy_version(&home.config, &target, false);
    assert!(
        c.ok && c.detail.starts_with("the proxy is not running"),
        "{c:?}"
    );

    record("npx -y @blockrun/clawrouter@0.12.200", true);
    let c = check_proxy_version(&home.config, &target, true);
    assert!(!c.ok, "{c:?}");
    assert!(c.detail.starts_with("ClawRouter 0.12.200 runs"), "{c:?}");
    assert!(c.fix.is_some_and(|f| f.starts_with("restart the proxy")));

    // The user's own command, @latest included, is theirs: it passes, marked not pinned.
    home.config.proxy.command = Some("npx -y @blockrun/clawrouter@latest".into());
    record("npx -y @blockrun/clawrouter@latest", false);
    let c = check_proxy_version(&home.config, &target, true);
    assert!(c.ok, "{c:?}");
    assert!(c.detail.contains("ClawRouter latest runs"), "{c:?}");
    assert!(c.detail.contains("not pinned"), "{c:?}");

    // Not ClawRouter: not used.
    let other = ProxyTarget {
        is_clawrouter: Some(false),
        ..target
    };
    assert!(check_proxy_version(&home.config, &other, true)
        .detail
        .starts_with("not used"));
}
