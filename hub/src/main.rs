//! The `hub` command: parse arguments, load configuration, start logging, run the chosen task.

/// mimalloc: the sync and token paths allocate heavily, and glibc's allocator spent a third of
/// a 20,000-user sync in malloc and free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use hub::audit::{self, Actor};
use hub::clock::SystemClock;
use hub::config::Config;
use hub::orgs::api_keys;
use hub::secrets::SecretBox;
use hub::storage::Store;

/// A neutral federation hub: companies sign in to shared applications with their own identity
/// providers, their directories stay the source of truth, and leavers lose access in seconds,
/// all recorded in a tamper-evident audit log.
#[derive(Parser)]
#[command(name = "hub", version, propagate_version = true)]
struct Cli {
    /// Configuration file (TOML), layered over the built-in defaults. HUB_<SECTION>__<KEY>
    /// environment variables override both.
    #[arg(short, long, env = "HUB_CONFIG", global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub (the default). Creates the SQLite database and secrets key on first start.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration and say what to fix, without starting anything.
    CheckConfig,
    /// Ask a running hub whether it is ready (GET /readyz): exit 0 if so, 1 if not. For
    /// container health checks; the address defaults to the configured `server.listen`.
    Probe {
        /// The URL to ask instead.
        #[arg(long)]
        url: Option<String>,
    },
    /// Operator tasks.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Token signing key tasks.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Audit log tasks.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Witness the audit log for an organization, on its own machine: check each checkpoint
    /// extends the last one, cosign it, and cry out (exit 3) at a split view.
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
    },
    /// Sync an organization's LDAP/Active Directory directories now (a full read, or with
    /// --incremental what changed since the last sync), with progress; removals beyond the
    /// directory's threshold are held for an admin to confirm.
    Sync {
        /// The organization (slug or id).
        org: String,
        /// Only the directory with this name (default: every LDAP directory of the org).
        #[arg(long)]
        directory: Option<String>,
        /// Read only what changed since the last sync (a full read if there is no cursor yet).
        #[arg(long)]
        incremental: bool,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator API key and print it once (it is stored only as a hash).
    CreateKey(CreateKeyArgs),
    /// List operator keys (id, name, prefix, created, revoked).
    ListKeys,
    /// Revoke an operator key by id; it stops working at once.
    RevokeKey {
        /// The key's id, as shown by list-keys.
        id: String,
    },
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Make a witness key: the signer key goes to --out (owner-only), the verifier key is
    /// printed for the organization's admin to register (POST /api/v1/orgs/{org}/witnesses).
    Keygen {
        /// The key's name, e.g. "acme.example/witness" (no spaces or +).
        #[arg(long)]
        name: String,
        /// Where to write the signer key (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Check and cosign the log's checkpoints, every --interval-secs (or once).
    Run {
        /// The hub's base URL.
        #[arg(long, value_name = "URL")]
        hub: String,
        /// An API key of the organization (a read key is enough).
        #[arg(long, env = "HUB_API_KEY", hide_env_values = true)]
        api_key: String,
        /// The log's verifier key, as GET /api/v1/audit/log/key gave it (keep it apart from
        /// the hub: a checkpoint signed by another key is not the log's).
        #[arg(long, value_name = "VKEY")]
        log_key: String,
        /// The witness's signer key file (from `hub witness keygen`).
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
        /// Where the witness keeps what it cosigned last.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// Seconds between rounds.
        #[arg(long, default_value_t = 10)]
        interval_secs: u64,
        /// One round, then exit (0, 1 on an error, 3 on a split view).
        #[arg(long)]
        once: bool,
    },
}

#[derive(Args)]
struct CreateKeyArgs {
    /// A name to recognise the key by in the audit log, e.g. "alice-laptop".
    #[arg(long)]
    name: String,
    /// The person who holds the key, by email: the audit log names them with every action.
    #[arg(long, value_name = "EMAIL")]
    person: Option<String>,
    /// End the key by itself after this many days (1 to 3650); without it, it lasts until
    /// revoked.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u16).range(1..=3650))]
    expires_days: Option<u16>,
    /// A key that reads and changes nothing (for auditors and support).
    #[arg(long)]
    read_only: bool,
    /// Limit the key to this organization (slug or id); repeat for several. It then sees no
    /// other organization, cannot create organizations and cannot read the whole audit log.
    #[arg(long = "org", value_name = "ORG")]
    orgs: Vec<String>,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create the next generation of the token signing keys. The new keys are published in the
    /// JWKS at once and sign from `oidc.key_publish_secs` later; the old ones stay published
    /// until the tokens they signed have expired.
    Rotate {
        /// Seconds before the new keys sign (default: oidc.key_publish_secs).
        #[arg(long)]
        publish_secs: Option<u64>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chain and signed checkpoints; exit 1 naming the first bad sequence number.
    Verify(VerifyArgs),
    /// Sign a checkpoint of the current chain head now.
    Checkpoint,
}

#[derive(Args)]
struct VerifyArgs {
    /// Verify a JSON Lines export (GET /api/v1/audit/export, as operator) instead of the database.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Signed checkpoints kept elsewhere (the JSON of GET /api/v1/audit/checkpoints, saved
    /// earlier) to check against the export, or against the database together with the stored
    /// ones. Compare the key ids printed with ones you obtained out of band.
    #[arg(long, value_name = "FILE")]
    checkpoints: Option<PathBuf>,
    /// Verify the database without the secrets key (checkpoint keys are then checked against the
    /// chain only, not against their private halves).
    #[arg(long)]
    skip_key_check: bool,
}

#[derive(serde::Deserialize)]
struct CheckpointsFile {
    checkpoints: Vec<audit::Checkpoint>,
    keys: Vec<PublicKey>,
}

#[derive(serde::Deserialize)]
struct PublicKey {
    kid: String,
    alg: String,
    public_key: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    hub::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `hub probe`: only the listen address is read from the configuration (no secrets needed).
async fn probe(config_path: Option<&std::path::Path>, url: Option<String>) -> Result<ExitCode> {
    let url = match url {
        Some(u) => u,
        None => {
            let listen: std::net::SocketAddr = Config::figment(config_path)?
                .extract_inner("server.listen")
                .context("server.listen")?;
            let host = if listen.ip().is_unspecified() {
                "127.0.0.1".to_string()
            } else {
                listen.ip().to_string()
            };
            format!("http://{host}:{}/readyz", listen.port())
        }
    };
    hub::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()?;
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(r) => {
            eprintln!("{url}: {}", r.status());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `hub witness`: runs on an organization's machine; needs neither the hub's configuration
/// nor its database.
async fn witness(command: WitnessCommand) -> Result<ExitCode> {
    match command {
        WitnessCommand::Keygen { name, out } => {
            let vkey = hub::witness::keygen(&name, &out)?;
            eprintln!(
                "wrote the signer key to {}; register this verifier key for your organization:",
                out.display()
            );
            println!("{vkey}");
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Run {
            hub,
            api_key,
            log_key,
            key_file,
            state,
            interval_secs,
            once,
        } => {
            let signer_key = std::fs::read_to_string(&key_file)
                .with_context(|| format!("cannot read {}", key_file.display()))?;
            let w = hub::witness::Witness {
                hub,
                api_key,
                log_key,
                signer_key,
                state,
            };
            let code = w
                .run(std::time::Duration::from_secs(interval_secs.max(1)), once)
                .await?;
            Ok(ExitCode::from(code))
        }
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let config_path = cli.config.as_deref();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::CheckConfig = command {
        return Ok(match Config::load(config_path) {
            Ok(config) => {
                if config.oidc.dev_login {
                    eprintln!("{DEV_LOGIN_WARNING}");
                }
                println!("configuration OK");
                println!("  listen:     {}", config.server.listen);
                println!("  public_url: {}", config.server.public_url);
                println!(
                    "  database:   {}",
                    hub::storage::redact_url(config.database.url.expose())
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        });
    }
    if let Command::Probe { url } = &command {
        return probe(config_path, url.clone()).await;
    }
    if let Command::Witness { command } = command {
        return witness(command).await;
    }
    let mut config = Config::load(config_path)?;
    hub::init_logging(&config);
    if !matches!(command, Command::Serve | Command::Migrate) {
        // Administrative commands work on the server's database and key; they never make new
        // ones where the server keeps none (a typo, another working directory, a missing
        // --config), which would leave the operator with keys the server never sees.
        config.secrets.create_key_file = false;
        refuse_new_database(&config)?;
    }
    match command {
        Command::Serve => {
            if config.oidc.dev_login {
                tracing::warn!("{DEV_LOGIN_WARNING}");
                eprintln!("{DEV_LOGIN_WARNING}");
            }
            let listener = tokio::net::TcpListener::bind(config.server.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.server.listen))?;
            hub::run(config, listener).await?;
        }
        Command::Migrate => {
            let store = Store::connect(&config.database).await?;
            let applied = store.migrate().await?;
            println!("database up to date ({applied} migration(s) applied)");
        }
        Command::CheckConfig | Command::Probe { .. } | Command::Witness { .. } => {
            bail!("handled before the configuration is loaded")
        }
        Command::Operator {
            command: OperatorCommand::CreateKey(args),
        } => {
            let store = Store::connect(&config.database).await?;
            store.migrate().await?;
            let actor = Actor::Cli {
                command: "operator create-key".into(),
            };
            let expires_at = args
                .expires_days
                .map(|d| hub::clock::Clock::now_ms(&SystemClock) + i64::from(d) * 86_400_000);
            let spec = hub::orgs::model::NewOperatorKey {
                name: args.name,
                person: args.person,
                expires_at,
                read_only: args.read_only,
                orgs: args.orgs,
            };
            let (key, secret) =
                api_keys::create_operator_key(&store, &SystemClock, &actor, &spec).await?;
            eprintln!(
                "created operator key {} ({}) in the database {}; it is shown once, store it now:",
                key.id,
                key.name,
                describe_database(&config)
            );
            println!("{secret}");
        }
        Command::Operator {
            command: OperatorCommand::ListKeys,
        } => {
            let store = Store::connect(&config.database).await?;
            store.migrate().await?;
            for k in hub::storage::api_keys::list_operator(store.conn()).await? {
                let mut state = match (k.revoked_at, k.expires_at) {
                    (Some(t), _) => format!("revoked {}", hub::clock::ms_to_rfc3339(t)),
                    (None, Some(t)) => format!("active, expires {}", hub::clock::ms_to_rfc3339(t)),
                    (None, None) => "active".to_string(),
                };
                if k.role != hub::orgs::model::Role::Operator {
                    state.push_str(", read-only");
                }
                if let Some(orgs) = &k.orgs {
                    let ids: Vec<String> = orgs.iter().map(ToString::to_string).collect();
                    state.push_str(&format!(", only {}", ids.join(" ")));
                }
                println!(
                    "{}  {:<24} {}…  created {}  {}",
                    k.id,
                    k.name,
                    k.prefix,
                    hub::clock::ms_to_rfc3339(k.created_at),
                    state
                );
            }
        }
        Command::Operator {
            command: OperatorCommand::RevokeKey { id },
        } => {
            let store = Store::connect(&config.database).await?;
            store.migrate().await?;
            let id = id
                .parse()
                .context("the key id is a UUID, as shown by `hub operator list-keys`")?;
            let actor = Actor::Cli {
                command: "operator revoke-key".into(),
            };
            if !api_keys::revoke_operator_key(&store, &SystemClock, &actor, id).await? {
                eprintln!("no active operator key with id {id}");
                return Ok(ExitCode::from(1));
            }
            println!("revoked operator key {id}");
        }
        Command::Audit {
            command: AuditCommand::Verify(args),
        } => return verify(&config, args).await,
        Command::Audit {
            command: AuditCommand::Checkpoint,
        } => {
            let state = hub::build_state(config).await?;
            match audit::checkpoint(&state.store, &state.signer, state.clock.as_ref()).await? {
                Some(cp) => println!(
                    "signed checkpoint at sequence {} with key {}",
                    cp.seq, cp.key_id
                ),
                None => println!("no new events since the last checkpoint"),
            }
        }
        Command::Keys {
            command: KeysCommand::Rotate { publish_secs },
        } => {
            let publish = publish_secs.unwrap_or(config.oidc.key_publish_secs);
            let state = hub::build_state(config).await?;
            state.keys.signer(hub::jose::Alg::ES256).await?;
            for k in state
                .keys
                .rotate(std::time::Duration::from_secs(publish))
                .await?
            {
                println!(
                    "new {} key {} (generation {}), signing from {}",
                    k.alg,
                    k.kid,
                    k.generation,
                    hub::clock::ms_to_rfc3339(k.not_before)
                );
            }
        }
        Command::Sync {
            org,
            directory,
            incremental,
        } => return sync(config, &org, directory, incremental).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// What the hub says, at start and in `check-config`, when the development sign-in is on.
const DEV_LOGIN_WARNING: &str = "WARNING: oidc.dev_login is on: anyone can sign in as any user \
     by typing an email address, with no password and no IdP. Never use it outside development; \
     set oidc.dev_login = false (or unset HUB_OIDC__DEV_LOGIN).";

/// Where the configured database is, in words (an absolute path for SQLite).
fn describe_database(config: &Config) -> String {
    let url = config.database.url.expose();
    if url.starts_with("sqlite:") {
        let file = hub::storage::sqlite_file(url);
        let path = std::path::absolute(file).unwrap_or_else(|_| PathBuf::from(file));
        format!("sqlite://{}", path.display())
    } else {
        hub::storage::redact_url(url)
    }
}

/// Refuses to go on when the configured SQLite file does not exist: the command would create
/// an empty database the server does not use.
fn refuse_new_database(config: &Config) -> Result<()> {
    let url = config.database.url.expose();
    if !url.starts_with("sqlite:") {
        return Ok(());
    }
    let file = hub::storage::sqlite_file(url);
    if file == ":memory:" || std::path::Path::new(file).is_file() {
        return Ok(());
    }
    bail!(
        "there is no database at {}: this command works on the database `hub serve` uses, and \
         will not create a new one. Run it with the server's configuration (the same --config \
         or HUB_CONFIG, HUB_DATABASE__URL, and working directory for relative paths), or start \
         the server once to create it.",
        describe_database(config)
    )
}

/// Reads a saved `/api/v1/audit/checkpoints` document and prints the keys it names.
fn read_checkpoints(path: &std::path::Path) -> Result<Vec<audit::Checkpoint>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: CheckpointsFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not the JSON of /api/v1/audit/checkpoints",
            path.display()
        )
    })?;
    for k in &doc.keys {
        println!("checkpoint key {} ({}): {}", k.kid, k.alg, k.public_key);
    }
    Ok(doc.checkpoints)
}

async fn verify(config: &Config, args: VerifyArgs) -> Result<ExitCode> {
    let report = if let Some(path) = args.file {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut records = Vec::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            records.push(audit::AuditRecord::from_export_line(line).with_context(|| {
                format!("{}:{}: not an audit export line", path.display(), n + 1)
            })?);
        }
        let checkpoints = match &args.checkpoints {
            Some(path) => read_checkpoints(path)?,
            None => Vec::new(),
        };
        audit::verify_records(&records, &checkpoints)
    } else {
        let store = Store::connect(&config.database).await?;
        // Never create a key while verifying.
        let mut secrets_config = config.secrets.clone();
        secrets_config.create_key_file = false;
        let secrets = match SecretBox::load(&secrets_config) {
            Ok(s) => Some(s),
            Err(_) if args.skip_key_check => None,
            Err(e) => bail!(
                "{e}\nthe secrets key proves the checkpoint keys are the hub's own; \
                 pass --skip-key-check to verify without it"
            ),
        };
        let expect = audit::Expectations {
            checkpoints: match &args.checkpoints {
                Some(path) => read_checkpoints(path)?,
                None => Vec::new(),
            },
            coverage: Some((
                chrono::Utc::now().timestamp_millis(),
                audit::max_checkpoint_gap_ms(&config.audit),
            )),
        };
        audit::verify_chain(&store, secrets.as_ref(), &expect).await?
    };
    match &report.problem {
        None => {
            println!(
                "audit log OK: {} events, last sequence {}, {} signed checkpoint(s)",
                report.events, report.last_seq, report.checkpoints
            );
            if report.redacted > 0 {
                println!(
                    "  ({} events of other organizations were redacted stubs: their links were checked, not their contents)",
                    report.redacted
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!("audit log FAILED: {problem}");
            if report.events > 0 {
                println!("  (events 1 to {} verified)", report.last_seq);
            }
            Ok(ExitCode::from(1))
        }
    }
}

async fn sync(
    config: Config,
    org: &str,
    only: Option<String>,
    incremental: bool,
) -> Result<ExitCode> {
    use hub::directories::sync::{Mode, Trigger};
    let state = hub::build_state(config).await?;
    let found = match hub::storage::organizations::find_by_slug(state.store.conn(), org).await? {
        Some(o) => Some(o),
        None => match org.parse() {
            Ok(id) => hub::storage::organizations::get(state.store.conn(), id).await?,
            Err(_) => None,
        },
    };
    let Some(org) = found else {
        eprintln!("no organization {org:?}");
        return Ok(ExitCode::from(2));
    };
    let dirs: Vec<_> = hub::storage::directories::list(state.store.conn(), org.id)
        .await?
        .into_iter()
        .filter(|d| d.kind == hub::directories::DirectoryKind::Ldap)
        .filter(|d| only.as_ref().is_none_or(|n| &d.name == n))
        .collect();
    if dirs.is_empty() {
        eprintln!(
            "{} has no LDAP directory{}",
            org.slug,
            only.map(|n| format!(" named {n:?}")).unwrap_or_default()
        );
        return Ok(ExitCode::from(2));
    }
    let mut ok = true;
    for d in dirs {
        eprintln!("syncing {} / {}", org.slug, d.name);
        let name = d.name.clone();
        let mode = if incremental {
            Mode::Incremental
        } else {
            Mode::Full
        };
        let row = hub::directories::sync::run(&state, &org, &d, mode, Trigger::Cli, move |n| {
            eprintln!("  {name}: {n} entries read");
        })
        .await?;
        println!(
            "{}: {} ({}) in {} ms: {}{}",
            d.name,
            row.status,
            row.mode,
            row.finished_at.unwrap_or(row.started_at) - row.started_at,
            row.counts,
            row.error
                .map(|e| format!(" (error: {e})"))
                .unwrap_or_default()
        );
        ok &= row.status != "failed";
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
