//! The deployment artefacts (`Dockerfile`, `compose.yml`, `deploy/k8s/`) stay in step with the binary and its
//! settings: every command they run is one `tenantry` parses, every variable they set is a setting and the set as a
//! whole is accepted by `Settings`, the Kubernetes workloads probe the right paths and ports and run unprivileged,
//! and the API and workers start only after the migrations. `docker compose config` is run as well when the
//! machine has Docker Compose; no other external tool is needed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;
use tenantry_settings::{AppEnv, EmailBackend, Settings};

/// Stands in for `${JWT_SECRET_KEY:?…}` when the compose environment is checked.
const TEST_JWT_SECRET: &str = "deploy-artifacts-test-secret-0123456789abcdef";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every document of a YAML file (split at `---` lines), with `<<` merge keys applied (compose files use them).
fn yaml_docs(rel: &str) -> Vec<Value> {
    let text = read(rel);
    let mut docs = Vec::new();
    let mut chunk = String::new();
    for line in text.lines().chain(std::iter::once("---")) {
        if line.trim_end() == "---" {
            let mut value: Value = serde_yaml_ng::from_str(&chunk)
                .unwrap_or_else(|e| panic!("{rel}: invalid YAML: {e}"));
            value
                .apply_merge()
                .unwrap_or_else(|e| panic!("{rel}: bad merge key: {e}"));
            if !value.is_null() {
                docs.push(value);
            }
            chunk.clear();
        } else {
            chunk.push_str(line);
            chunk.push('\n');
        }
    }
    assert!(!docs.is_empty(), "{rel} holds no YAML document");
    docs
}

/// Every string in a YAML tree (keys and values): what compose interpolates.
fn all_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(seq) => seq.iter().for_each(|x| all_strings(x, out)),
        Value::Mapping(m) => m.iter().for_each(|(k, x)| {
            all_strings(k, out);
            all_strings(x, out);
        }),
        Value::Tagged(t) => all_strings(&t.value, out),
        _ => {}
    }
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, found {v:?}"))
}

fn strings(v: &Value, what: &str) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Sequence(seq) => seq.iter().map(|x| scalar(x, what)).collect(),
        other => panic!("{what}: expected a string or a list, found {other:?}"),
    }
}

/// A scalar as text (numbers and booleans the way YAML wrote them).
fn scalar(v: &Value, what: &str) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => panic!("{what}: expected a scalar, found {other:?}"),
    }
}

fn map_entries(v: &Value, what: &str) -> Vec<(String, Value)> {
    match v {
        Value::Null => Vec::new(),
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| (scalar(k, what), v.clone()))
            .collect(),
        other => panic!("{what}: expected a mapping, found {other:?}"),
    }
}

/// The variable names `Settings` reads, taken from the settings crate's source: every quoted upper-case name in
/// it. Test-only hooks are excluded, so no deployment may carry them; `RUST_LOG` is read by the log filter.
fn setting_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in ["crates/settings/src/lib.rs", "crates/settings/src/parse.rs"] {
        let text = read(file);
        // Between two quotes: literals, and code, which never consists of upper-case letters alone.
        for part in text.split('"') {
            let is_name = part.len() >= 3
                && part.starts_with(|c: char| c.is_ascii_uppercase())
                && part.contains('_')
                && part
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if is_name && !part.starts_with("TENANTRY_TEST_") {
                names.insert(part.to_owned());
            }
        }
    }
    names.insert("RUST_LOG".to_owned());
    // The scan must have found the contract's variables (README.md / .env.example), else it is broken.
    for line in read(".env.example").lines() {
        let line = line.trim_start_matches('#').trim();
        if let Some((name, _)) = line.split_once('=')
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && name != "TEMPORAL_UI_PORT"
        {
            assert!(
                names.contains(name),
                ".env.example names {name}, which the settings crate does not read"
            );
        }
    }
    assert!(names.len() >= 40, "settings scan found only {names:?}");
    names
}

fn settings_from(vars: &BTreeMap<String, String>, what: &str) -> Settings {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    Settings::from_map(map).unwrap_or_else(|e| panic!("{what}: the settings are refused: {e}"))
}

/// `tenantry <args>` must parse: `<args> --help` exits 0, and the full command line gets past argument parsing to
/// the settings check (which fails here on purpose, with an empty environment). A renamed subcommand, flag or value
/// fails both.
fn assert_tenantry_args(args: &[String], what: &str) {
    assert!(!args.is_empty(), "{what}: no tenantry subcommand");
    let bin = env!("CARGO_BIN_EXE_tenantry");
    let help = Command::new(bin)
        .args(args)
        .arg("--help")
        .env_clear()
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        help.status.success(),
        "{what}: `tenantry {} --help` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&help.stderr)
    );
    let run = Command::new(bin)
        .args(args)
        .env_clear()
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.code() == Some(2) && stderr.contains("invalid setting"),
        "{what}: `tenantry {}` was not accepted by the argument parser: {stderr}",
        args.join(" ")
    );
}

// ---- compose ----------------------------------------------------------------------------------------------------

/// Compose interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$VAR`
/// and `$$`. Returns the text with `given` values (else defaults, else empty) and the names it met, with whether
/// each was marked required.
fn interpolate(text: &str, given: &HashMap<&str, &str>) -> (String, Vec<(String, bool)>) {
    let mut out = String::new();
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').expect("unclosed ${");
            let expr = &body[..end];
            let name_len = expr
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(expr.len());
            let (name, op) = expr.split_at(name_len);
            let required = op.starts_with(":?") || op.starts_with('?');
            let default = op
                .strip_prefix(":-")
                .or_else(|| op.strip_prefix('-'))
                .unwrap_or("");
            names.push((name.to_owned(), required));
            out.push_str(given.get(name).copied().unwrap_or(default));
            rest = &body[end + 1..];
        } else {
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            assert!(name_len > 0, "a lone `$` (write `$$`) in: {text}");
            let name = &after[..name_len];
            names.push((name.to_owned(), false));
            out.push_str(given.get(name).copied().unwrap_or(""));
            rest = &after[name_len..];
        }
    }
    out.push_str(rest);
    (out, names)
}

/// `45s`, `1m30s`, `2m` → seconds.
fn compose_duration_secs(raw: &str) -> u64 {
    let mut total = 0;
    let mut num = String::new();
    for c in raw.chars() {
        if c.is_ascii_digit() {
            num.push(c);
        } else {
            let n: u64 = num.parse().unwrap_or_else(|_| panic!("bad duration {raw}"));
            num.clear();
            total += match c {
                'h' => n * 3600,
                'm' => n * 60,
                's' => n,
                _ => panic!("bad duration {raw}"),
            };
        }
    }
    assert!(num.is_empty(), "duration without unit: {raw}");
    total
}

/// The tenantry command lines a compose service runs: its command with the image's `tenantry` entrypoint, or the
/// `tenantry …` commands of a `sh -c` script.
fn compose_tenantry_commands(service: &Value, name: &str) -> Vec<Vec<String>> {
    let entrypoint = strings(&service["entrypoint"], name);
    let command = strings(&service["command"], name);
    match entrypoint.first().map(String::as_str) {
        None | Some("tenantry") => {
            let mut args: Vec<String> = entrypoint.into_iter().skip(1).collect();
            args.extend(command);
            vec![args]
        }
        Some("/bin/sh" | "sh" | "/bin/bash" | "bash") => {
            assert!(
                entrypoint.iter().skip(1).any(|a| a.contains('c')),
                "{name}: a shell entrypoint needs -c"
            );
            let script = command.join(" ");
            script
                .split(['\n', ';'])
                .flat_map(|s| s.split("&&"))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|cmd| {
                    let words: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
                    assert_eq!(
                        words[0], "tenantry",
                        "{name}: the script runs `{cmd}`, not a tenantry command"
                    );
                    words[1..].to_vec()
                })
                .collect()
        }
        Some(other) => panic!("{name}: unexpected entrypoint {other}"),
    }
}

fn depends_on(service: &Value) -> BTreeMap<String, String> {
    match &service["depends_on"] {
        Value::Sequence(seq) => seq
            .iter()
            .map(|s| (scalar(s, "depends_on"), "service_started".to_owned()))
            .collect(),
        other => map_entries(other, "depends_on")
            .into_iter()
            .map(|(k, v)| {
                let cond = v["condition"]
                    .as_str()
                    .unwrap_or("service_started")
                    .to_owned();
                (k, cond)
            })
            .collect(),
    }
}

#[test]
fn compose_runs_valid_tenantry_commands_with_accepted_settings() {
    let names = setting_names();
    let doc = yaml_docs("compose.yml").remove(0);
    let services: BTreeMap<String, Value> = map_entries(&doc["services"], "services")
        .into_iter()
        .collect();

    // Every variable compose interpolates is documented in docs/deploy.md; JWT_SECRET_KEY has no default.
    let mut texts = Vec::new();
    all_strings(&doc, &mut texts);
    let interpolated: Vec<(String, bool)> = texts
        .iter()
        .flat_map(|t| interpolate(t, &HashMap::new()).1)
        .collect();
    let deploy_doc = read("docs/deploy.md");
    for (var, _) in &interpolated {
        assert!(
            deploy_doc.contains(&format!("`{var}`")),
            "compose.yml reads ${{{var}}}, which docs/deploy.md does not mention (as `{var}`)"
        );
    }
    assert!(
        interpolated
            .iter()
            .any(|(var, required)| var == "JWT_SECRET_KEY" && *required),
        "JWT_SECRET_KEY must be required (${{JWT_SECRET_KEY:?…}}), never defaulted"
    );

    let given = HashMap::from([("JWT_SECRET_KEY", TEST_JWT_SECRET)]);
    let mut tenantry_services = BTreeMap::new();
    for (name, service) in &services {
        let image = service["image"].as_str().unwrap_or("");
        let is_tenantry = !service["build"].is_null() || image.contains("tenantry");
        if !is_tenantry {
            continue;
        }
        // Environment: only settings the process reads, and together accepted by Settings.
        let mut env = BTreeMap::new();
        match &service["environment"] {
            Value::Sequence(seq) => {
                for item in seq {
                    let item = scalar(item, name);
                    let (k, v) = item.split_once('=').unwrap_or((&item, ""));
                    env.insert(k.to_owned(), v.to_owned());
                }
            }
            other => {
                for (k, v) in map_entries(other, name) {
                    env.insert(k, scalar(&v, name));
                }
            }
        }
        for key in env.keys() {
            assert!(
                names.contains(key),
                "compose service {name} sets {key}, which is not a Tenantry setting"
            );
        }
        let resolved: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.clone(), interpolate(v, &given).0))
            .collect();
        let settings = settings_from(&resolved, &format!("compose service {name}"));
        assert_eq!(settings.app_env, AppEnv::Production, "{name}: APP_ENV");
        assert_eq!(settings.email_backend, EmailBackend::Smtp, "{name}");
        assert_eq!(
            settings.bind_addr.ip().to_string(),
            "0.0.0.0",
            "{name}: BIND_ADDR must listen on every interface inside a container"
        );
        let commands = compose_tenantry_commands(service, name);
        for args in &commands {
            assert_tenantry_args(args, &format!("compose service {name}"));
        }
        tenantry_services.insert(name.clone(), (commands, settings));
    }

    // The roles: migrate (public, then tenants), the API, and workers covering both workloads.
    let (migrate, _) = &tenantry_services["migrate"];
    assert_eq!(migrate.len(), 2, "migrate: {migrate:?}");
    assert_eq!(migrate[0][..2], ["migrate", "public"]);
    assert_eq!(migrate[1][..2], ["migrate", "tenants"]);
    assert_eq!(
        scalar(&services["migrate"]["restart"], "migrate"),
        "no",
        "migrate is one-shot"
    );
    let mut workloads = BTreeSet::new();
    let mut api_seen = false;
    for (name, (commands, settings)) in &tenantry_services {
        if name == "migrate" {
            continue;
        }
        let [args] = commands.as_slice() else {
            panic!("{name}: one command expected, got {commands:?}")
        };
        let service = &services[name];
        let needed_grace = match args[0].as_str() {
            "serve" => {
                api_seen = true;
                // The published port is the one BIND_ADDR listens on.
                let port = settings.bind_addr.port().to_string();
                let ports = strings(&service["ports"], name);
                assert!(
                    ports.iter().any(|p| p.ends_with(&format!(":{port}"))),
                    "{name}: no published port maps to BIND_ADDR's {port}: {ports:?}"
                );
                settings.shutdown_grace_period.as_secs() + 10
            }
            "worker" => {
                let i = args.iter().position(|a| a == "--workload").unwrap();
                workloads.insert(args[i + 1].clone());
                settings.worker_shutdown_grace.as_secs()
            }
            other => panic!("{name}: unexpected long-running command {other}"),
        };
        let deps = depends_on(service);
        assert_eq!(
            deps.get("migrate").map(String::as_str),
            Some("service_completed_successfully"),
            "{name} must start only after migrate exited 0"
        );
        assert!(
            !service["healthcheck"].is_null(),
            "{name} has no healthcheck"
        );
        let grace = compose_duration_secs(str_of(&service["stop_grace_period"], name));
        assert!(
            grace >= needed_grace + 5,
            "{name}: stop_grace_period {grace}s is shorter than the drain ({needed_grace}s) + 5 s \
             (compose's default 10 s would kill in-flight work)"
        );
    }
    assert!(api_seen, "no `tenantry serve` service");
    assert_eq!(
        workloads,
        BTreeSet::from(["jobs".to_owned(), "tenant".to_owned()]),
        "the workers must cover the tenant and the jobs queues"
    );

    // The backing services: PostgreSQL, Temporal on PostgreSQL, Redis, each with a health check.
    for name in ["postgres", "temporal", "redis"] {
        let service = services
            .get(name)
            .unwrap_or_else(|| panic!("compose has no {name} service"));
        assert!(
            !service["healthcheck"].is_null(),
            "{name} has no healthcheck"
        );
    }
    assert_eq!(
        depends_on(&services["temporal"])
            .get("postgres")
            .map(String::as_str),
        Some("service_healthy")
    );
    assert_eq!(
        scalar(&services["temporal"]["environment"]["DB"], "temporal"),
        "postgres12"
    );
}

#[test]
fn docker_compose_accepts_the_file_when_docker_is_available() {
    let available = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !available {
        println!(
            "note: `docker compose` is not available here; skipped `docker compose config -q` \
             (the YAML checks of compose.yml still ran)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("tenantry-compose-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // An empty env file: a developer's .env (for scripts/dev) must not decide the outcome.
    let env_file = dir.join("empty.env");
    std::fs::write(&env_file, "").unwrap();
    let compose = |secret: Option<&str>| {
        let mut cmd = Command::new("docker");
        cmd.arg("compose")
            .arg("--env-file")
            .arg(&env_file)
            .arg("-f")
            .arg(root().join("compose.yml"))
            .args(["config", "-q"])
            .current_dir(&dir);
        for var in [
            "JWT_SECRET_KEY",
            "POSTGRES_PASSWORD",
            "TENANTRY_IMAGE",
            "APP_URL",
            "CORS_ORIGINS",
            "METRICS_API_KEY",
            "TEMPORAL_QUEUE_SHARDS",
        ] {
            cmd.env_remove(var);
        }
        if let Some(secret) = secret {
            cmd.env("JWT_SECRET_KEY", secret);
        }
        cmd.output().unwrap()
    };
    let ok = compose(Some(TEST_JWT_SECRET));
    assert!(
        ok.status.success(),
        "docker compose config: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let missing = compose(None);
    assert!(
        !missing.status.success()
            && String::from_utf8_lossy(&missing.stderr).contains("JWT_SECRET_KEY"),
        "compose must refuse to run without JWT_SECRET_KEY: {}",
        String::from_utf8_lossy(&missing.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- Kubernetes -------------------------------------------------------------------------------------------------

struct K8s {
    /// (file, document) of every file kustomization.yaml lists, plus secret.example.yaml.
    docs: Vec<(String, Value)>,
    config_name: String,
    secret_name: String,
    /// The ConfigMap and the example Secret together: what every pod gets through `envFrom`.
    env: BTreeMap<String, String>,
    settings: Settings,
}

fn load_k8s() -> K8s {
    let names = setting_names();
    let dir = root().join("deploy/k8s");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml") || f.ends_with(".yml"))
        .collect();
    files.sort();
    let kustomization = yaml_docs("deploy/k8s/kustomization.yaml").remove(0);
    assert_eq!(
        kustomization["kind"].as_str(),
        Some("Kustomization"),
        "kustomization.yaml"
    );
    let resources: BTreeSet<String> = strings(&kustomization["resources"], "resources")
        .into_iter()
        .collect();
    for file in &files {
        match file.as_str() {
            "kustomization.yaml" => {}
            "secret.example.yaml" => assert!(
                !resources.contains(file),
                "secret.example.yaml holds placeholders and must not be applied by `kubectl apply -k`"
            ),
            _ => assert!(
                resources.contains(file),
                "deploy/k8s/{file} is not listed in kustomization.yaml"
            ),
        }
    }
    for resource in &resources {
        assert!(
            files.contains(resource),
            "kustomization.yaml lists {resource}, which does not exist"
        );
    }
    // The kustomize image name is the one the workloads use.
    let images = kustomization["images"]
        .as_sequence()
        .expect("kustomization images");
    assert!(
        images
            .iter()
            .any(|i| i["name"].as_str() == Some("tenantry")),
        "kustomization.yaml must map the image `tenantry` to a registry"
    );

    let mut docs = Vec::new();
    for file in files.iter().filter(|f| *f != "kustomization.yaml") {
        for doc in yaml_docs(&format!("deploy/k8s/{file}")) {
            assert!(
                doc["apiVersion"].is_string() && doc["kind"].is_string(),
                "{file}: a document without apiVersion/kind"
            );
            assert!(
                doc["metadata"]["name"].is_string(),
                "{file}: a document without metadata.name"
            );
            docs.push((file.clone(), doc));
        }
    }
    let one = |kind: &str, file: &str| -> Value {
        let found: Vec<&Value> = docs
            .iter()
            .filter(|(f, d)| f == file && d["kind"].as_str() == Some(kind))
            .map(|(_, d)| d)
            .collect();
        assert_eq!(found.len(), 1, "{file}: exactly one {kind} expected");
        found[0].clone()
    };
    let config = one("ConfigMap", "configmap.yaml");
    let secret = one("Secret", "secret.example.yaml");
    let mut env = BTreeMap::new();
    for (doc, field) in [(&config, "data"), (&secret, "stringData")] {
        for (k, v) in map_entries(&doc[field], field) {
            assert!(
                names.contains(&k),
                "deploy/k8s sets {k}, which is not a Tenantry setting"
            );
            assert!(
                v.is_string(),
                "deploy/k8s: {k} must be a quoted string (ConfigMap and Secret values are strings)"
            );
            assert!(
                env.insert(k.clone(), scalar(&v, &k)).is_none(),
                "{k} set twice"
            );
        }
    }
    let settings = settings_from(&env, "deploy/k8s ConfigMap + example Secret");
    assert_eq!(settings.app_env, AppEnv::Production);
    K8s {
        config_name: str_of(&config["metadata"]["name"], "configmap").to_owned(),
        secret_name: str_of(&secret["metadata"]["name"], "secret").to_owned(),
        docs,
        env,
        settings,
    }
}

fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

/// Pod and container hardening, resources, image and settings wiring, and the arguments.
fn check_pod(k8s: &K8s, pod: &Value, what: &str) -> Vec<(Value, Vec<String>)> {
    let pod_sc = &pod["securityContext"];
    assert!(is_true(&pod_sc["runAsNonRoot"]), "{what}: runAsNonRoot");
    let uid = pod_sc["runAsUser"].as_u64().unwrap_or(0);
    assert!(
        uid >= 1000,
        "{what}: runAsUser must be a non-root uid, is {uid}"
    );
    assert_eq!(
        pod_sc["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault"),
        "{what}: seccompProfile"
    );
    let mut out = Vec::new();
    let init = pod["initContainers"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    let main = pod["containers"]
        .as_sequence()
        .cloned()
        .expect("containers");
    for container in init.iter().chain(main.iter()) {
        let name = format!("{what}/{}", str_of(&container["name"], what));
        assert_eq!(
            container["image"].as_str(),
            Some("tenantry"),
            "{name}: image"
        );
        let sc = &container["securityContext"];
        assert_eq!(
            sc["allowPrivilegeEscalation"].as_bool(),
            Some(false),
            "{name}: allowPrivilegeEscalation"
        );
        assert!(
            is_true(&sc["readOnlyRootFilesystem"]),
            "{name}: readOnlyRootFilesystem"
        );
        assert!(
            strings(&sc["capabilities"]["drop"], &name).contains(&"ALL".to_owned()),
            "{name}: capabilities must drop ALL"
        );
        let resources = &container["resources"];
        assert!(
            resources["requests"]["cpu"].is_string() && resources["requests"]["memory"].is_string(),
            "{name}: resource requests"
        );
        assert!(
            resources["limits"]["memory"].is_string(),
            "{name}: memory limit"
        );
        let refs: BTreeSet<(String, String)> = container["envFrom"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name}: no envFrom"))
            .iter()
            .flat_map(|e| {
                [
                    ("configMapRef", &e["configMapRef"]),
                    ("secretRef", &e["secretRef"]),
                ]
                .into_iter()
                .filter(|(_, r)| !r.is_null())
                .map(|(kind, r)| (kind.to_owned(), str_of(&r["name"], "envFrom").to_owned()))
                .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            refs,
            BTreeSet::from([
                ("configMapRef".to_owned(), k8s.config_name.clone()),
                ("secretRef".to_owned(), k8s.secret_name.clone()),
            ]),
            "{name}: envFrom must take the ConfigMap and the Secret"
        );
        assert!(
            container["command"].is_null(),
            "{name}: keep the image's entrypoint"
        );
        let args = strings(&container["args"], &name);
        assert_tenantry_args(&args, &name);
        out.push((container.clone(), args));
    }
    out
}

/// A probe's port, by number or by the container port's name.
fn probe_port(container: &Value, probe: &Value, what: &str) -> u64 {
    let port = &probe["httpGet"]["port"];
    if let Some(n) = port.as_u64() {
        return n;
    }
    let name = str_of(port, what);
    container["ports"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|p| p["name"].as_str() == Some(name))
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("{what}: no container port named {name}"))
}

#[test]
fn k8s_manifests_probe_the_right_ports_run_unprivileged_and_run_valid_commands() {
    let k8s = load_k8s();
    let api_port = u64::from(k8s.settings.bind_addr.port());
    let worker_port = u64::from(k8s.settings.worker_health_port);
    let mut workloads = BTreeSet::new();
    let mut api_labels = None;
    let mut api_replicas = 0;
    let mut job_seen = false;

    for (file, doc) in &k8s.docs {
        let kind = doc["kind"].as_str().unwrap();
        match kind {
            "Deployment" => {
                let spec = &doc["spec"];
                let template = &spec["template"];
                let labels: BTreeMap<String, Value> =
                    map_entries(&template["metadata"]["labels"], file)
                        .into_iter()
                        .collect();
                for (k, v) in map_entries(&spec["selector"]["matchLabels"], file) {
                    assert_eq!(
                        labels.get(&k),
                        Some(&v),
                        "{file}: selector {k} does not match the pods"
                    );
                }
                let pod = &template["spec"];
                let containers = check_pod(&k8s, pod, file);
                let [(container, args)] = containers.as_slice() else {
                    panic!("{file}: one container expected")
                };
                let (port, drain) = match args[0].as_str() {
                    "serve" => {
                        api_labels = Some(labels.clone());
                        api_replicas = spec["replicas"].as_u64().unwrap_or(1);
                        // In-flight requests, then up to 10 s for the outbox relay to stop.
                        (api_port, k8s.settings.shutdown_grace_period.as_secs() + 10)
                    }
                    "worker" => {
                        let i = args.iter().position(|a| a == "--workload").unwrap();
                        workloads.insert(args[i + 1].clone());
                        (worker_port, k8s.settings.worker_shutdown_grace.as_secs())
                    }
                    other => panic!("{file}: a Deployment runs `{other}`"),
                };
                assert!(
                    container["ports"]
                        .as_sequence()
                        .into_iter()
                        .flatten()
                        .any(|p| p["containerPort"].as_u64() == Some(port)),
                    "{file}: containerPort {port} is not declared"
                );
                for (probe, path) in [("livenessProbe", "/health"), ("readinessProbe", "/ready")] {
                    let p = &container[probe];
                    assert_eq!(
                        p["httpGet"]["path"].as_str(),
                        Some(path),
                        "{file}: {probe} path"
                    );
                    assert_eq!(probe_port(container, p, file), port, "{file}: {probe} port");
                }
                let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
                    .as_u64()
                    .unwrap_or(0);
                let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
                assert!(
                    grace >= pre_stop + drain + 5,
                    "{file}: terminationGracePeriodSeconds {grace} < preStop {pre_stop} + drain {drain} + 5"
                );
            }
            "Job" => {
                job_seen = true;
                let pod = &doc["spec"]["template"]["spec"];
                let restart = pod["restartPolicy"].as_str();
                assert!(
                    matches!(restart, Some("Never" | "OnFailure")),
                    "{file}: restartPolicy {restart:?}"
                );
                let steps: Vec<Vec<String>> = check_pod(&k8s, pod, file)
                    .into_iter()
                    .map(|(_, args)| args)
                    .collect();
                assert_eq!(steps.len(), 2, "{file}: {steps:?}");
                assert_eq!(
                    steps[0],
                    ["migrate", "public"],
                    "{file}: public first (init container)"
                );
                assert_eq!(
                    steps[1][..2],
                    ["migrate", "tenants"],
                    "{file}: then the tenant schemas"
                );
            }
            "Service" => {
                let selector: BTreeMap<String, Value> = map_entries(&doc["spec"]["selector"], file)
                    .into_iter()
                    .collect();
                let labels = api_labels_of(&k8s);
                assert!(
                    selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
                    "{file}: the Service selects no API pod"
                );
                for port in doc["spec"]["ports"].as_sequence().expect("ports") {
                    let target = &port["targetPort"];
                    let ok = target.as_u64() == Some(api_port) || target.as_str() == Some("http");
                    assert!(ok, "{file}: targetPort {target:?} is not the API port");
                }
            }
            "ConfigMap" | "Secret" | "Namespace" | "PodDisruptionBudget" => {}
            other => panic!("{file}: unexpected kind {other}; extend this test"),
        }
    }
    assert!(api_labels.is_some(), "no Deployment runs `tenantry serve`");
    assert!(api_replicas >= 2, "the API runs at least 2 replicas");
    assert!(job_seen, "no migration Job");
    assert_eq!(
        workloads,
        BTreeSet::from(["jobs".to_owned(), "tenant".to_owned()]),
        "the worker Deployments must cover the tenant and the jobs queues"
    );
    // Secrets stay out of the ConfigMap.
    for secret in [
        "DATABASE_URL",
        "JWT_SECRET_KEY",
        "SMTP_URL",
        "REDIS_URL",
        "METRICS_API_KEY",
    ] {
        let in_config = k8s
            .docs
            .iter()
            .filter(|(_, d)| d["kind"].as_str() == Some("ConfigMap"))
            .any(|(_, d)| !d["data"][secret].is_null());
        assert!(
            !in_config,
            "{secret} belongs in the Secret, not the ConfigMap"
        );
    }
    assert!(k8s.env.contains_key("JWT_SECRET_KEY"));
}

fn api_labels_of(k8s: &K8s) -> BTreeMap<String, Value> {
    k8s.docs
        .iter()
        .filter(|(_, d)| d["kind"].as_str() == Some("Deployment"))
        .find(|(_, d)| {
            strings(
                &d["spec"]["template"]["spec"]["containers"][0]["args"],
                "args",
            )
            .first()
            .map(String::as_str)
                == Some("serve")
        })
        .map(|(f, d)| {
            map_entries(&d["spec"]["template"]["metadata"]["labels"], f)
                .into_iter()
                .collect()
        })
        .expect("an API Deployment")
}

// ---- Dockerfile -------------------------------------------------------------------------------------------------

#[test]
fn dockerfile_is_multi_stage_non_root_and_runs_tenantry() {
    let text = read("Dockerfile");
    // Instructions with their continuation lines joined, comments dropped.
    let mut instructions: Vec<(String, String)> = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            pending.push_str(part);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let (op, rest) = pending
            .split_once(char::is_whitespace)
            .unwrap_or((&pending, ""));
        instructions.push((op.to_ascii_uppercase(), rest.trim().to_owned()));
        pending.clear();
    }
    let of = |op: &str| -> Vec<&str> {
        instructions
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, r)| r.as_str())
            .collect()
    };

    let froms = of("FROM");
    assert!(froms.len() >= 2, "multi-stage build expected: {froms:?}");
    assert!(
        froms.iter().any(|f| f.starts_with("rust:")),
        "a build stage on the official rust image: {froms:?}"
    );
    let runtime = *froms.last().unwrap();
    assert!(
        !runtime.starts_with("rust:") && !runtime.starts_with("node:"),
        "the runtime stage must not be a build image: {runtime}"
    );
    // The runtime stage: the instructions after the last FROM.
    let last_from = instructions.iter().rposition(|(o, _)| o == "FROM").unwrap();
    let final_stage = &instructions[last_from + 1..];
    let final_of = |op: &str| -> Vec<&str> {
        final_stage
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, r)| r.as_str())
            .collect()
    };
    assert!(
        final_of("COPY")
            .iter()
            .any(|c| c.starts_with("--from=") && c.ends_with("/usr/local/bin/tenantry")),
        "the runtime stage copies the binary from the build stage onto the PATH"
    );
    // `serve` serves the console from `web/dist` below the working directory: the image must have it there.
    let workdir = *final_of("WORKDIR")
        .last()
        .expect("a WORKDIR in the runtime stage");
    let console_dir = format!(
        "{}/{}",
        workdir.trim_end_matches('/'),
        tenantry_http::console::DEFAULT_DIR
    );
    assert!(
        final_of("COPY")
            .iter()
            .any(|c| c.starts_with("--from=") && c.split_whitespace().last() == Some(&console_dir)),
        "the runtime stage must copy the built web console to {console_dir}"
    );
    assert!(
        of("RUN").iter().any(|r| r.contains("npm run build")),
        "the web console is built in the image (npm run build)"
    );
    // The toolchain is at least the workspace's rust-version.
    let rust_arg = of("ARG")
        .into_iter()
        .find_map(|a| a.strip_prefix("RUST_VERSION="))
        .expect("ARG RUST_VERSION=…");
    let msrv = read("Cargo.toml")
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("rust-version = ")
                .map(|v| v.trim_matches('"').to_owned())
        })
        .expect("workspace rust-version");
    let version = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    assert!(
        rust_arg == "1" || version(rust_arg) >= version(&msrv),
        "RUST_VERSION {rust_arg} is older than the workspace rust-version {msrv}"
    );
    // The build reads the migrations (`sqlx::migrate!` embeds them) and the workspace manifests.
    let copies = of("COPY").join("\n");
    for needed in ["Cargo.toml", "Cargo.lock", "crates", "migrations", "web"] {
        assert!(
            copies.contains(needed),
            "the build stage must COPY {needed}"
        );
    }
    assert!(
        of("RUN").iter().any(|r| r.contains("cargo build")
            && r.contains("--locked")
            && r.contains("-p tenantry")),
        "cargo build --locked -p tenantry expected"
    );

    let user = *of("USER").last().expect("a USER instruction");
    let user_name = user.split(':').next().unwrap();
    assert!(
        user_name != "root" && user_name != "0",
        "the image must run as a non-root user, not {user}"
    );
    assert_eq!(of("ENTRYPOINT"), [r#"["tenantry"]"#], "ENTRYPOINT");
    let cmd = *of("CMD").last().expect("CMD");
    let cmd: Vec<String> = serde_json::from_str(cmd).expect("CMD in exec form");
    assert_tenantry_args(&cmd, "Dockerfile CMD");
    let exposed: BTreeSet<&str> = of("EXPOSE")
        .iter()
        .flat_map(|e| e.split_whitespace())
        .collect();
    assert!(
        exposed.contains("8000") && exposed.contains("8001"),
        "EXPOSE 8000 (API) and 8001 (worker health): {exposed:?}"
    );
    // ENV: settings only, and a BIND_ADDR reachable from outside the container.
    let names = setting_names();
    for env in of("ENV") {
        for pair in env.split_whitespace() {
            let (k, v) = pair.split_once('=').expect("ENV in KEY=value form");
            assert!(
                names.contains(k),
                "Dockerfile ENV {k} is not a Tenantry setting"
            );
            if k == "BIND_ADDR" {
                assert!(
                    v.starts_with("0.0.0.0:"),
                    "BIND_ADDR {v} is unreachable from outside the container"
                );
            }
        }
    }

    let ignore: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    for excluded in ["target", ".git"] {
        assert!(
            ignore.iter().any(|l| l == excluded),
            ".dockerignore must exclude {excluded}"
        );
    }
    for kept in ["crates", "migrations", "Cargo.toml", "Cargo.lock", "web"] {
        assert!(
            !ignore.iter().any(|l| l == kept || l == &format!("/{kept}")),
            ".dockerignore excludes {kept}, which the build needs"
        );
    }
}
