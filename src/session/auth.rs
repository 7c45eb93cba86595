//! Who gets in: the users and their secrets, the password method
//! (SCRAM-SHA-256, MD5, cleartext or trust) and the connection limit, all
//! applied at startup before any query runs.
//!
//! Secrets are kept as PostgreSQL keeps them (`pg_authid.rolpassword`): a
//! SCRAM-SHA-256 verifier (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`),
//! an MD5 hash (`md5` + md5(password + user)) or, for quick setups, the
//! password itself. A user who is not known goes through the same exchange
//! as one who is (a made-up salt for SCRAM) and fails the same way, so the
//! error does not tell which users exist.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::{digest, hmac, pbkdf2, rand::SecureRandom};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures::Sink;
use pgwire::api::auth::cleartext::CleartextPasswordAuthStartupHandler;
use pgwire::api::auth::md5pass::Md5PasswordAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, ScramSecret};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::{AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler};
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::error::{Error, Result};

/// SCRAM iterations for verifiers redsql makes (PostgreSQL's default).
pub const SCRAM_ITERATIONS: u32 = 4096;

/// How clients prove who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Anyone may connect as any user.
    Trust,
    ScramSha256,
    Md5,
    /// The password in clear (use it only over TLS).
    Password,
}

impl Method {
    pub fn parse(s: &str) -> Result<Method> {
        match s.to_lowercase().as_str() {
            "trust" => Ok(Method::Trust),
            "scram-sha-256" | "scram" => Ok(Method::ScramSha256),
            "md5" => Ok(Method::Md5),
            "password" | "cleartext" => Ok(Method::Password),
            _ => Err(Error::Unsupported(format!(
                "unknown authentication method \"{s}\" (trust, scram-sha-256, md5, password)"
            ))),
        }
    }
}

/// A stored secret, in one of PostgreSQL's forms.
#[derive(Clone)]
pub enum Secret {
    Plain(String),
    /// md5(password + user), hex.
    Md5(String),
    Scram {
        iterations: u32,
        salt: Vec<u8>,
        stored_key: Vec<u8>,
        server_key: Vec<u8>,
    },
}

impl Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Secret::Plain(_) => "Plain(<redacted>)",
            Secret::Md5(_) => "Md5(<redacted>)",
            Secret::Scram { .. } => "Scram(<redacted>)",
        })
    }
}

impl Secret {
    /// A secret as written in a users file or the environment.
    pub fn parse(text: &str) -> Result<Secret> {
        if let Some(rest) = text.strip_prefix("SCRAM-SHA-256$") {
            let bad = || Error::Unsupported("malformed SCRAM-SHA-256 verifier".into());
            let (params, keys) = rest.split_once('$').ok_or_else(bad)?;
            let (iterations, salt) = params.split_once(':').ok_or_else(bad)?;
            let (stored, server) = keys.split_once(':').ok_or_else(bad)?;
            let b64 = |s: &str| B64.decode(s).map_err(|_| bad());
            return Ok(Secret::Scram {
                iterations: iterations.parse().map_err(|_| bad())?,
                salt: b64(salt)?,
                stored_key: b64(stored)?,
                server_key: b64(server)?,
            });
        }
        if let Some(hex) = text.strip_prefix("md5") {
            if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(Secret::Md5(hex.to_ascii_lowercase()));
            }
        }
        Ok(Secret::Plain(text.to_string()))
    }
}

/// A SCRAM-SHA-256 verifier for a password, as PostgreSQL stores it.
pub fn scram_verifier(password: &str) -> String {
    let mut salt = [0u8; 16];
    random(&mut salt);
    let salted = salted_password(password, &salt, SCRAM_ITERATIONS);
    let (stored, server) = scram_keys(&salted);
    format!(
        "SCRAM-SHA-256${SCRAM_ITERATIONS}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored),
        B64.encode(server)
    )
}

fn random(out: &mut [u8]) {
    aws_lc_rs::rand::SystemRandom::new()
        .fill(out)
        .expect("the system's random source");
}

fn salted_password(password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let n = std::num::NonZeroU32::new(iterations.max(1)).expect("nonzero");
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, n, salt, password.as_bytes(), &mut out);
    out
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg)
        .as_ref()
        .to_vec()
}

/// (StoredKey, ServerKey) of a salted password.
fn scram_keys(salted: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let client_key = hmac_sha256(salted, b"Client Key");
    let stored = digest::digest(&digest::SHA256, &client_key).as_ref().to_vec();
    (stored, hmac_sha256(salted, b"Server Key"))
}

fn md5_hex(data: &[u8]) -> String {
    format!("{:x}", md5::compute(data))
}

/// Compare without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A user who may connect.
#[derive(Clone, Debug)]
pub struct User {
    pub secret: Secret,
    /// May read but not change anything (see [`Access::read_only`]).
    pub read_only: bool,
}

/// The users redsql knows, by name.
#[derive(Clone, Debug, Default)]
pub struct Users(HashMap<String, User>);

impl Users {
    /// A users file: one user a line, `name secret [read-only]`, `#` comments.
    /// The secret is a SCRAM-SHA-256 verifier (`redsql hash-password` makes
    /// one), an `md5…` hash or the password itself (no spaces).
    pub fn parse(text: &str) -> Result<Users> {
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let bad = |why: &str| Error::Unsupported(format!("users file, line {}: {why}", n + 1));
            let read_only = match words.get(2).copied() {
                None => false,
                Some("read-only" | "readonly") => true,
                Some(other) => return Err(bad(&format!("unknown option \"{other}\" (read-only)"))),
            };
            let (Some(name), Some(secret), true) = (words.first(), words.get(1), words.len() <= 3) else {
                return Err(bad("expected `name secret [read-only]`"));
            };
            let user = User {
                secret: Secret::parse(secret)?,
                read_only,
            };
            if users.insert(name.to_string(), user).is_some() {
                return Err(bad(&format!("user \"{name}\" appears twice")));
            }
        }
        Ok(Users(users))
    }

    pub fn add(&mut self, name: &str, user: User) {
        self.0.insert(name.to_string(), user);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&User> {
        self.0.get(name)
    }
}

/// Who may connect and what they may do; shared by every connection.
#[derive(Debug)]
pub struct Access {
    pub method: Method,
    pub users: Users,
    /// Nobody may change anything (`--read-only`).
    pub read_only: bool,
    /// At most this many client connections at once.
    pub max_connections: usize,
    /// Refuse clients that did not ask for TLS.
    pub require_tls: bool,
    open: AtomicUsize,
    /// SCRAM secrets of users whose password is stored plain, salted once.
    salted: HashMap<String, (Vec<u8>, Vec<u8>)>,
    /// Salts made up for users who do not exist are derived from this.
    mock_seed: [u8; 16],
}

impl Access {
    pub fn new(method: Method, users: Users, read_only: bool, max_connections: usize, require_tls: bool) -> Access {
        let mut salted = HashMap::new();
        if method == Method::ScramSha256 {
            for (name, user) in &users.0 {
                if let Secret::Plain(p) = &user.secret {
                    let mut salt = vec![0u8; 16];
                    random(&mut salt);
                    let s = salted_password(p, &salt, SCRAM_ITERATIONS);
                    salted.insert(name.clone(), (salt, s));
                }
            }
        }
        let mut mock_seed = [0u8; 16];
        random(&mut mock_seed);
        Access {
            method,
            users,
            read_only,
            max_connections,
            require_tls,
            open: AtomicUsize::new(0),
            salted,
            mock_seed,
        }
    }

    /// Whether this session's user may only read.
    pub fn read_only_for(&self, user: Option<&str>) -> bool {
        self.read_only || user.and_then(|u| self.users.get(u)).is_some_and(|u| u.read_only)
    }

    /// A place for one more connection, held until the guard is dropped;
    /// None when `max_connections` are open.
    pub fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let before = self.open.fetch_add(1, Ordering::SeqCst);
        let guard = Admitted(self.clone());
        (before < self.max_connections).then_some(guard)
    }

    fn mock_scram(&self, user: &str) -> ScramSecret {
        let salt = hmac_sha256(&self.mock_seed, user.as_bytes())[..16].to_vec();
        let mut junk = vec![0u8; 32];
        random(&mut junk);
        ScramSecret::Verifier {
            salt,
            iterations: SCRAM_ITERATIONS as usize,
            stored_key: junk.clone(),
            server_key: junk,
        }
    }
}

/// A connection counted against the limit.
pub struct Admitted(Arc<Access>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

fn failed(login: &LoginInfo) -> PgWireError {
    PgWireError::InvalidPassword(login.user().unwrap_or_default().to_owned())
}

/// The users as pgwire's password mechanisms ask for them.
#[derive(Debug, Clone)]
pub struct Source(pub Arc<Access>);

#[async_trait]
impl AuthSource for Source {
    /// For MD5: the expected answer to a fresh salt.
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let mut salt = vec![0u8; 4];
        random(&mut salt);
        let name = login.user().unwrap_or_default();
        let inner = match self.0.users.get(name).map(|u| &u.secret) {
            Some(Secret::Plain(p)) => Some(md5_hex(format!("{p}{name}").as_bytes())),
            Some(Secret::Md5(hex)) => Some(hex.clone()),
            // A SCRAM verifier cannot answer an MD5 challenge (as in PostgreSQL).
            Some(Secret::Scram { .. }) | None => None,
        };
        let expected = match inner {
            Some(inner) => format!("md5{}", md5_hex(&[inner.as_bytes(), &salt].concat())),
            None => {
                let mut junk = [0u8; 16];
                random(&mut junk);
                format!("md5{}", md5_hex(&junk))
            }
        };
        Ok(Password::new(Some(salt), expected.into_bytes()))
    }

    async fn verify_password(&self, login: &LoginInfo, presented: &[u8]) -> PgWireResult<Option<()>> {
        let name = login.user().unwrap_or_default();
        let ok = match self.0.users.get(name).map(|u| &u.secret) {
            Some(Secret::Plain(p)) => same(p.as_bytes(), presented),
            Some(Secret::Md5(hex)) => same(
                hex.as_bytes(),
                md5_hex(&[presented, name.as_bytes()].concat()).as_bytes(),
            ),
            Some(Secret::Scram {
                iterations,
                salt,
                stored_key,
                ..
            }) => {
                let password = String::from_utf8_lossy(presented);
                let (stored, _) = scram_keys(&salted_password(&password, salt, *iterations));
                same(&stored, stored_key)
            }
            None => false,
        };
        if ok {
            Ok(None)
        } else {
            Err(failed(login))
        }
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        let name = login.user().unwrap_or_default();
        let secret = match (self.0.users.get(name).map(|u| &u.secret), self.0.salted.get(name)) {
            (Some(Secret::Plain(_)), Some((salt, salted))) => ScramSecret::SaltedPassword {
                salt: salt.clone(),
                salted_password: salted.clone(),
            },
            (
                Some(Secret::Scram {
                    iterations,
                    salt,
                    stored_key,
                    server_key,
                }),
                _,
            ) => ScramSecret::Verifier {
                salt: salt.clone(),
                iterations: *iterations as usize,
                stored_key: stored_key.clone(),
                server_key: server_key.clone(),
            },
            // Unknown, or only an MD5 hash: an exchange that cannot succeed.
            _ => self.0.mock_scram(name),
        };
        Ok((secret, None))
    }
}

type Params = DefaultServerParameterProvider;

/// pgwire's startup handler for the configured method, built once. Every
/// one registers its connections with the server's `ConnectionManager`, so
/// a cancel request (pid and secret key) finds the session to cancel.
/// (One per server, behind an Arc: the variants' sizes do not matter.)
#[allow(clippy::large_enum_variant)]
pub enum Authenticator {
    Trust(TrustStartup),
    Scram(SASLAuthStartupHandler<Params>),
    Md5(Md5PasswordAuthStartupHandler<Source, Params>),
    Password(CleartextPasswordAuthStartupHandler<Source, Params>),
}

impl Authenticator {
    pub fn new(access: &Arc<Access>, connections: &Arc<ConnectionManager>) -> Authenticator {
        let source = Source(access.clone());
        let connections = connections.clone();
        match access.method {
            Method::Trust => Authenticator::Trust(TrustStartup(connections)),
            Method::ScramSha256 => {
                let mut scram = ScramAuth::new(Arc::new(source));
                scram.set_iterations(SCRAM_ITERATIONS as usize);
                Authenticator::Scram(
                    SASLAuthStartupHandler::new(Arc::new(Params::default()))
                        .with_scram(scram)
                        .with_connection_manager(connections),
                )
            }
            Method::Md5 => Authenticator::Md5(
                Md5PasswordAuthStartupHandler::new(Arc::new(source), Arc::new(Params::default()))
                    .with_connection_manager(connections),
            ),
            Method::Password => Authenticator::Password(
                CleartextPasswordAuthStartupHandler::new(source, Params::default())
                    .with_connection_manager(connections),
            ),
        }
    }
}

/// No authentication: the session starts as the user it names.
pub struct TrustStartup(Arc<ConnectionManager>);

impl pgwire::api::auth::noop::NoopStartupHandler for TrustStartup {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(self.0.clone())
    }
}

/// The startup handler of one connection: refuses it when the server is
/// full or TLS is required and not used, then authenticates.
pub struct Startup {
    /// Over the connection limit.
    pub refused: bool,
    pub require_tls: bool,
    pub authenticator: Arc<Authenticator>,
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(_) = message {
            if self.refused {
                return Err(Error::TooManyConnections("sorry, too many clients already".into()).into());
            }
            if self.require_tls && !client.is_secure() {
                let why = "this server accepts only TLS connections: connect with sslmode=require";
                return Err(Error::NotAuthorized(why.into()).into());
            }
        }
        let out = match self.authenticator.as_ref() {
            Authenticator::Trust(h) => h.on_startup(client, message).await,
            Authenticator::Scram(h) => h.on_startup(client, message).await,
            Authenticator::Md5(h) => h.on_startup(client, message).await,
            Authenticator::Password(h) => h.on_startup(client, message).await,
        };
        // One message for every way a password can fail, naming the user
        // the client gave (pgwire's SCRAM failure names none).
        out.map_err(|e| match e {
            PgWireError::InvalidPassword(_) | PgWireError::InvalidScramMessage(_) => {
                let user = client
                    .metadata()
                    .get(pgwire::api::METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                tracing::info!(%user, "password authentication failed");
                Error::PasswordFailed(format!("password authentication failed for user \"{user}\"")).into()
            }
            e => e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_check_the_password_they_were_made_from() {
        let Secret::Scram {
            iterations,
            salt,
            stored_key,
            server_key,
        } = Secret::parse(&scram_verifier("s3cret")).unwrap()
        else {
            panic!("not a verifier");
        };
        assert_eq!(iterations, SCRAM_ITERATIONS);
        let (stored, server) = scram_keys(&salted_password("s3cret", &salt, iterations));
        assert_eq!((stored, server), (stored_key.clone(), server_key));
        let (wrong, _) = scram_keys(&salted_password("s3cret ", &salt, iterations));
        assert_ne!(wrong, stored_key);
    }

    #[test]
    fn postgresql_secrets_check_their_password() {
        // pg_authid.rolpassword of roles made by PostgreSQL 15 with the password "pencil"
        // (password_encryption scram-sha-256, then md5).
        let v = "SCRAM-SHA-256$4096:AtwgEOL0VkqmZeHtPaDjsw==$C02/12Y6/nQ0E/io4mfB1qIwn9OFPh3iADQpr5d+ecA=:\
                 +CRUVyi8k0eYoc636coLm0K/EivmPubrgKLayXhU4Oo=";
        let Secret::Scram {
            iterations,
            salt,
            stored_key,
            server_key,
        } = Secret::parse(v).unwrap()
        else {
            panic!("not a verifier");
        };
        assert_eq!(iterations, 4096);
        let (stored, server) = scram_keys(&salted_password("pencil", &salt, iterations));
        assert_eq!((stored, server), (stored_key, server_key));
        let Secret::Md5(hex) = Secret::parse("md58bbf3f45673bf67d02e4214911f3417f").unwrap() else {
            panic!("not an md5 hash");
        };
        assert_eq!(hex, md5_hex(b"pencilm")); // the role is "m"
        assert!(matches!(Secret::parse("md5short").unwrap(), Secret::Plain(_)));
        assert!(Secret::parse("SCRAM-SHA-256$x").is_err());
    }

    #[test]
    fn users_files_name_user_secret_and_options() {
        let users =
            Users::parse("# who\nalice pw1\nbob md5a3556571e93b0d20722ba62be61e8c2d read-only # ro\n\n").unwrap();
        assert!(!users.get("alice").unwrap().read_only);
        assert!(users.get("bob").unwrap().read_only);
        assert!(users.get("carol").is_none());
        for bad in ["alice", "alice pw extra", "alice pw\nalice pw2", "alice pw superuser"] {
            let e = Users::parse(bad).unwrap_err().to_string();
            assert!(e.contains("line"), "{bad}: {e}");
        }
    }
}
