//! Stopping the server's work when gold_digger gives up on a query (SIGINT,
//! SIGTERM, SIGHUP, a read timeout).
//!
//! Closing our connection does not stop a query that is still thinking (a
//! sort, `SLEEP`): the server notices the closed socket only when it next
//! writes to it. So, as the `mariadb` client does on Ctrl-C, a second
//! connection with the same options sends `KILL QUERY <id>` for every session
//! that may be running one, within a short, fixed time: the exit never waits
//! on it for longer than [`CANCEL_BUDGET`].
//!
//! Sessions register their connection id once logged in, so that one
//! [`Canceller`] serves any number of parallel connections.

use super::Session;
use crate::config::ConnectOptions;
use crate::error::Error;
use gd_protocol::ProtocolError;
use std::sync::Mutex;
use std::time::Duration;

/// Longest time allowed for the second connection to connect and log in.
pub const CANCEL_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest time the whole cancellation may take (connect, log in, the KILLs).
pub const CANCEL_BUDGET: Duration = Duration::from_secs(3);

/// The server's error for `KILL` of a connection id that no longer exists.
const ER_NO_SUCH_THREAD: u16 = 1094;

/// The connection ids whose queries to kill, and how to reach their server.
#[derive(Debug)]
pub struct Canceller {
    opts: ConnectOptions,
    ids: Mutex<Vec<u32>>,
}

impl Canceller {
    /// A canceller for sessions opened with `opts`; its own connection uses
    /// the same options with a connect timeout of at most
    /// [`CANCEL_CONNECT_TIMEOUT`].
    pub fn new(opts: &ConnectOptions) -> Self {
        let mut opts = opts.clone();
        opts.connect_timeout = opts.connect_timeout.min(CANCEL_CONNECT_TIMEOUT);
        opts.read_timeout = Some(CANCEL_BUDGET);
        // KILL needs no session time zone.
        opts.time_zone = None;
        Self {
            opts,
            ids: Mutex::new(Vec::new()),
        }
    }

    fn with_ids<T>(&self, f: impl FnOnce(&mut Vec<u32>) -> T) -> T {
        // A panic elsewhere cannot leave the list half-changed: use it anyway.
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut ids)
    }

    /// Adds a logged-in session whose query may need killing.
    pub fn register(&self, connection_id: u32) {
        self.with_ids(|ids| ids.push(connection_id));
    }

    /// Removes a session that is done (its query ended, or it is closed).
    pub fn unregister(&self, connection_id: u32) {
        self.with_ids(|ids| ids.retain(|&id| id != connection_id));
    }

    /// The registered connection ids.
    pub fn ids(&self) -> Vec<u32> {
        self.with_ids(|ids| ids.clone())
    }

    /// Kills the query of every registered session, within [`CANCEL_BUDGET`].
    /// Never fails: what could not be done is logged as a warning.
    pub async fn cancel(&self) {
        let ids = self.with_ids(std::mem::take);
        if ids.is_empty() {
            return;
        }
        let list = ids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        match tokio::time::timeout(CANCEL_BUDGET, kill_queries(&self.opts, &ids)).await {
            Ok(Ok(())) => {
                tracing::info!("cancelled the query on the server (KILL QUERY {list})");
            }
            Ok(Err(e)) => tracing::warn!(
                "could not cancel the query on the server (KILL QUERY {list}): {e}; \
                 it may keep running until it finishes"
            ),
            Err(_) => tracing::warn!(
                "could not cancel the query on the server (KILL QUERY {list}): no answer \
                 within {} s; it may keep running until it finishes",
                CANCEL_BUDGET.as_secs()
            ),
        }
    }
}

/// Connects with `opts` and sends `KILL QUERY` for each of `ids`. An id the
/// server no longer knows (its connection already ended) is not an error.
pub async fn kill_queries(opts: &ConnectOptions, ids: &[u32]) -> Result<(), Error> {
    let mut session = Session::connect(opts).await?;
    let mut result = Ok(());
    for id in ids {
        match session.execute(&format!("KILL QUERY {id}")).await {
            Ok(()) => {}
            Err(Error::Query(ProtocolError::Server(e))) if e.code == ER_NO_SUCH_THREAD => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    session.quit().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_a_set_of_sessions() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "gold_digger",
            "--db-url",
            "mysql://u:p@h/db",
            "-q",
            "SELECT 1",
            "-o",
            "-",
        ])
        .unwrap();
        let config = crate::config::Config::resolve(&cli, &|_| None).unwrap();
        let c = Canceller::new(&config.connect);
        assert!(c.opts.connect_timeout <= CANCEL_CONNECT_TIMEOUT);
        c.register(7);
        c.register(9);
        c.register(11);
        c.unregister(9);
        assert_eq!(c.ids(), [7, 11]);
    }
}
