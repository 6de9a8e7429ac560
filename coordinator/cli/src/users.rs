//! `gpesctl user ...` and `gpesctl whoami`: people, their role grants and
//! their API tokens.

use crate::TIMEOUT;
use clap::Subcommand;
use gpes_client::Uplink;
use gpes_protocol::{
    CreateUserRequest, CreateUserTokenRequest, CreateUserTokenResponse, GrantSpec, Me, User,
    UserToken,
};

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user (they sign in with a token: `user token`).
    Add {
        /// Their user name: lower-case letters, digits, '.', '-', '_'.
        id: String,
        /// Their full name.
        #[arg(long)]
        name: String,
    },
    /// Every user, with their grants.
    List,
    /// One user: grants and tokens (never the secrets).
    Show { id: String },
    /// Grant a role: admin, collection-manager, viewer; B1842, B1843,
    /// B1844, B1845, declarer (SCOPE a practice code); commissioner
    /// (SCOPE a region code); recipient (SCOPE an organisation code);
    /// supplier (SCOPE a supplier's name).
    Grant {
        id: String,
        role: String,
        scope: Option<String>,
    },
    /// Take a grant away.
    Ungrant {
        id: String,
        role: String,
        scope: Option<String>,
    },
    /// Make an API token for a user; its secret is printed this once.
    Token {
        id: String,
        /// Days until it expires (1 to 365).
        #[arg(long, default_value_t = 90)]
        ttl_days: u32,
        /// What it is for.
        #[arg(long)]
        label: Option<String>,
    },
    /// Revoke a token (by its id, as `user show` lists it).
    RevokeToken { token_id: String },
    /// Disable a user: none of their tokens works from then on.
    Disable { id: String },
}

fn encode(text: &str) -> String {
    crate::encode(text)
}

fn print_user(u: &User) {
    println!("user      {} ({})", u.id, u.name);
    println!(
        "created   {} by {}",
        crate::when(Some(u.created_ms)),
        u.created_by
    );
    if let Some(d) = u.disabled_ms {
        println!("disabled  {}", crate::when(Some(d)));
    }
    println!("grants    {}", grants_text(&u.grants));
    if u.tokens.is_empty() {
        println!("tokens    none");
    } else {
        println!(
            "{:<44} {:<16} {:<17} {:<17} {:<17}",
            "TOKEN", "LABEL", "EXPIRES", "REVOKED", "LAST USED"
        );
        for t in &u.tokens {
            println!(
                "{:<44} {:<16} {:<17} {:<17} {:<17}",
                t.id,
                t.label,
                crate::when(Some(t.expires_ms)),
                crate::when(t.revoked_ms),
                crate::when(t.last_used_ms)
            );
        }
    }
}

fn grants_text(grants: &[GrantSpec]) -> String {
    if grants.is_empty() {
        return "none".into();
    }
    grants
        .iter()
        .map(|g| match &g.scope {
            Some(s) => format!("{}:{s}", g.role),
            None => g.role.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn show<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce(&T)) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        text(value);
    }
    Ok(())
}

pub async fn run(up: &Uplink, json: bool, command: &UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { id, name } => {
            let u: User = up
                .post(
                    "/v1/users",
                    &CreateUserRequest {
                        id: id.clone(),
                        name: name.clone(),
                    },
                    TIMEOUT,
                )
                .await?;
            show(json, &u, print_user)
        }
        UserCommand::List => {
            let users: Vec<User> = crate::all_pages(up, "/v1/users", u32::MAX).await?;
            show(json, &users, |users| {
                println!("{:<24} {:<30} {:<9} GRANTS", "USER", "NAME", "STATE");
                for u in users {
                    println!(
                        "{:<24} {:<30} {:<9} {}",
                        u.id,
                        u.name,
                        if u.disabled_ms.is_some() {
                            "disabled"
                        } else {
                            "active"
                        },
                        grants_text(&u.grants)
                    );
                }
            })
        }
        UserCommand::Show { id } => {
            let u: User = up
                .get(&format!("/v1/users/{}", encode(id)), TIMEOUT)
                .await?;
            show(json, &u, print_user)
        }
        UserCommand::Grant { id, role, scope } | UserCommand::Ungrant { id, role, scope } => {
            let path = if matches!(command, UserCommand::Grant { .. }) {
                format!("/v1/users/{}/grants", encode(id))
            } else {
                format!("/v1/users/{}/grants/remove", encode(id))
            };
            let u: User = up
                .post(
                    &path,
                    &GrantSpec {
                        role: role.clone(),
                        scope: scope.clone(),
                    },
                    TIMEOUT,
                )
                .await?;
            show(json, &u, print_user)
        }
        UserCommand::Token {
            id,
            ttl_days,
            label,
        } => {
            let r: CreateUserTokenResponse = up
                .post(
                    &format!("/v1/users/{}/tokens", encode(id)),
                    &CreateUserTokenRequest {
                        ttl_days: *ttl_days,
                        label: label.clone(),
                    },
                    TIMEOUT,
                )
                .await?;
            show(json, &r, |r| {
                eprintln!(
                    "token {} for {} until {}; the secret below is shown this once:",
                    r.token_id,
                    r.user_id,
                    crate::when(Some(r.expires_ms))
                );
                println!("{}", r.secret);
            })
        }
        UserCommand::RevokeToken { token_id } => {
            let t: UserToken = up
                .post(
                    &format!("/v1/user-tokens/{}/revoke", encode(token_id)),
                    &(),
                    TIMEOUT,
                )
                .await?;
            show(json, &t, |t| {
                println!("revoked {} at {}", t.id, crate::when(t.revoked_ms))
            })
        }
        UserCommand::Disable { id } => {
            let u: User = up
                .post(&format!("/v1/users/{}/disable", encode(id)), &(), TIMEOUT)
                .await?;
            show(json, &u, print_user)
        }
    }
}

/// `gpesctl whoami`.
pub async fn whoami(up: &Uplink, json: bool) -> anyhow::Result<()> {
    let me: Me = up.get("/v1/me", TIMEOUT).await?;
    show(json, &me, |me| {
        println!("{}: {}", me.actor, grants_text(&me.grants))
    })
}
