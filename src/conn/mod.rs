//! A logged-in session: connect, handshake, authenticate, run statements,
//! and hand result packets to a caller's handler without copying them.

mod batch;
pub mod cancel;
mod inbuf;
mod record;
pub mod tls;
pub mod transport;

use crate::cli::Protocol;
use crate::cli::SslMode;
use crate::config::{ConnectOptions, Endpoint};
use crate::error::{Error, StreamError};
use gd_protocol::binary::{
    PrepareDecoder, PrepareOk, PrepareStep, com_stmt_close, com_stmt_execute, com_stmt_prepare,
};
use gd_protocol::command::{COM_QUIT, com_query};
use gd_protocol::framing::{Decoded, Framer};
use gd_protocol::handshake::{AuthStep, Credentials, Greeting, Login, Negotiated};
use gd_protocol::resultset::{Event, QueryDecoder};
use gd_protocol::{ColumnDef, ProtocolError, ServerError};
use inbuf::InBuf;
use std::io;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UnixStream};
use transport::Transport;

/// Session variables for long streaming exports: the server must not give
/// up on a client that is busy writing a slow disk (net_write_timeout
/// defaults to 60 s), and every text column arrives as utf8mb4.
const SESSION_SETUP: &str = "SET NAMES utf8mb4, \
     SESSION net_write_timeout = 86400, \
     SESSION net_read_timeout = 86400, \
     SESSION wait_timeout = 86400";

/// The whole set-up statement for `opts` on the server that sent `greeting`:
/// one round trip. Unless writes are allowed, the session's transactions are
/// read-only (`SET SESSION TRANSACTION READ ONLY` as a variable, so that it
/// fits in the same `SET`): an UPDATE, INSERT, DELETE or DDL then fails with
/// the server's error 1792.
fn session_setup(opts: &ConnectOptions, greeting: &Greeting) -> String {
    let mut sql = String::from(SESSION_SETUP);
    if opts.read_only {
        sql.push_str(", SESSION ");
        sql.push_str(read_only_variable(
            &greeting.server_version,
            greeting.is_mariadb(),
        ));
        sql.push_str(" = 1");
    }
    // Checked by the configuration: no quote or backslash can be inside.
    if let Some(zone) = &opts.time_zone {
        sql.push_str(", SESSION time_zone = '");
        sql.push_str(zone);
        sql.push('\'');
    } else {
        sql.push_str(SYSTEM_UTC_AS_OFFSET);
    }
    sql
}

/// A server whose zone is the system's, and the system's UTC, shows every
/// TIMESTAMP the same in `+00:00`; but for `SYSTEM` it converts each value
/// with the C library's `localtime_r`, which takes a process-wide lock: with
/// two connections exporting, glibc's `__tz_convert` was 4 % of the
/// server's samples (perf). 10 M rows of `bench.mixed` over `-j 2`, three
/// alternating runs each: server CPU 15.68-16.31 s in `SYSTEM` against
/// 14.72-15.56 s, wall 9.74-10.17 s against 9.19-9.73 s. Only `UTC` is
/// swapped: any other zone may have daylight saving time, which an offset
/// would not follow.
const SYSTEM_UTC_AS_OFFSET: &str = ", SESSION time_zone = IF(@@session.time_zone = 'SYSTEM' \
     AND @@global.system_time_zone = 'UTC', '+00:00', @@session.time_zone)";

/// The server's error for an unknown time zone.
const ER_UNKNOWN_TIME_ZONE: u16 = 1298;

/// The (major, minor, patch) of a server's version string; missing parts are
/// 0. MariaDB 10.x and 11.x announce themselves to old clients as
/// `5.5.5-10.11.6-MariaDB…`: the real version follows that prefix.
pub fn version_number(server_version: &str) -> (u32, u32, u32) {
    let version = server_version
        .strip_prefix("5.5.5-")
        .unwrap_or(server_version);
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// The name of the session's transaction access mode variable: MySQL 8 knows
/// only `transaction_read_only` (since 5.7.20), MariaDB before 11.1 only
/// `tx_read_only` (11.1 renamed it and keeps the old name as deprecated).
fn read_only_variable(server_version: &str, mariadb: bool) -> &'static str {
    let v = version_number(server_version);
    let mariadb = mariadb || server_version.contains("MariaDB");
    if (mariadb && v >= (11, 1, 0)) || (!mariadb && v >= (5, 7, 20)) {
        "transaction_read_only"
    } else {
        "tx_read_only"
    }
}

/// Why reading packets stopped.
#[derive(Debug)]
pub enum PacketError<E> {
    /// The connection failed or closed.
    Io(io::Error),
    /// The bytes were not valid packets.
    Protocol(ProtocolError),
    /// Nothing arrived for the read timeout.
    Timeout(Duration),
    /// The handler failed.
    Handler(E),
}

/// What a packet handler wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Give me the next packet.
    Continue,
    /// The exchange is over.
    Stop,
}

/// How a statement was sent: its rows arrive as text or in binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statement {
    /// COM_QUERY: text rows.
    Query,
    /// A prepared statement (its id), executed: binary rows.
    Prepared(u32),
}

impl Statement {
    /// Whether the rows arrive in the binary protocol.
    pub fn is_binary(self) -> bool {
        matches!(self, Self::Prepared(_))
    }
}

/// A connection after login.
#[derive(Debug)]
pub struct Session {
    stream: Transport,
    framer: Framer,
    inbuf: InBuf,
    negotiated: Negotiated,
    /// The server's id for this connection (what `KILL` takes).
    pub connection_id: u32,
    /// The server's version string.
    pub server_version: String,
    send_buf: Vec<u8>,
    /// Longest silence tolerated while a response is awaited (None: forever).
    read_timeout: Option<Duration>,
}

impl Session {
    /// Connects, logs in and prepares the session, within the connect timeout.
    pub async fn connect(opts: &ConnectOptions) -> Result<Self, Error> {
        let target = opts.endpoint.to_string();
        match tokio::time::timeout(opts.connect_timeout, Self::connect_inner(opts, &target)).await {
            Ok(result) => result,
            Err(_) => Err(Error::ConnectTimeout {
                target,
                seconds: opts.connect_timeout.as_secs(),
            }),
        }
    }

    async fn connect_inner(opts: &ConnectOptions, target: &str) -> Result<Self, Error> {
        let connect_err = |source| Error::Connect {
            target: target.to_string(),
            source,
        };
        let stream = match &opts.endpoint {
            Endpoint::Tcp { host, port } => {
                let s = TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(connect_err)?;
                // Small login packets must not wait for Nagle.
                s.set_nodelay(true).map_err(connect_err)?;
                Transport::Tcp(s)
            }
            Endpoint::Socket { path } => {
                Transport::Unix(UnixStream::connect(path).await.map_err(connect_err)?)
            }
        };
        let login_err = |source| Error::Login {
            target: target.to_string(),
            user: opts.user.clone(),
            source,
        };
        let io_err = |source| Error::LoginIo {
            target: target.to_string(),
            source,
        };

        let mut framer = Framer::new(opts.max_row_size);
        let mut inbuf = InBuf::new(inbuf::DEFAULT_CAPACITY);
        let mut stream = stream;
        let greeting = read_owned(&mut stream, &mut framer, &mut inbuf)
            .await
            .map_err(|e| match e {
                PacketError::Io(e) => io_err(e),
                PacketError::Timeout(_) => io_err(io::ErrorKind::TimedOut.into()),
                PacketError::Protocol(e) | PacketError::Handler(e) => login_err(e),
            })?;
        let greeting = Greeting::parse(&greeting).map_err(login_err)?;
        tracing::info!(server = %greeting.server_version, id = greeting.connection_id, "connected to {target}");
        // TLS over TCP only: a Unix socket is local, and already counts as a
        // secure transport for the password.
        let tls = match (&opts.endpoint, &opts.tls) {
            (Endpoint::Tcp { host, .. }, Some(client)) => Some((host.as_str(), client)),
            _ => None,
        };
        if matches!(opts.endpoint, Endpoint::Socket { .. })
            && !matches!(opts.ssl_mode, SslMode::Disabled | SslMode::Preferred)
        {
            tracing::warn!(
                "--ssl-mode {:?} has no effect on a Unix socket: the connection is local and is \
                 not encrypted",
                opts.ssl_mode
            );
        }
        let server_offers_tls = greeting.offers_tls();
        let use_tls = match tls {
            Some(_) if server_offers_tls => true,
            Some(_) if opts.ssl_mode == SslMode::Preferred => {
                tracing::info!(
                    "{target} does not offer TLS; continuing unencrypted (--ssl-mode preferred)"
                );
                false
            }
            Some(_) => {
                return Err(Error::TlsUnavailable {
                    target: target.to_string(),
                    mode: opts.ssl_mode.flag_value(),
                });
            }
            None => false,
        };
        // Negotiated::new keeps only what the server offers, so CLIENT_SSL is
        // never claimed towards a server without it.
        let negotiated =
            Negotiated::new(&greeting, opts.database.is_some(), use_tls).map_err(login_err)?;
        if let (true, Some((host, client))) = (use_tls, tls) {
            stream = upgrade(
                stream,
                &mut framer,
                &mut inbuf,
                &negotiated,
                host,
                client,
                target,
            )
            .await?;
        }
        let mut session = Self {
            stream,
            framer,
            inbuf,
            negotiated,
            connection_id: greeting.connection_id,
            server_version: greeting.server_version.clone(),
            send_buf: Vec::with_capacity(256),
            read_timeout: opts.read_timeout,
        };
        let creds = Credentials {
            user: &opts.user,
            password: opts.password.expose().as_bytes(),
            database: opts.database.as_deref(),
            secure_transport: session.stream.is_secure(),
            server_public_key: opts.server_public_key_pem.as_deref(),
            get_server_public_key: opts.get_server_public_key,
        };
        let (mut login, response) = Login::start(&greeting, &negotiated, &creds);
        session.send(&response).await.map_err(io_err)?;
        loop {
            let packet = session.read_packet().await.map_err(|e| match e {
                PacketError::Io(e) => io_err(e),
                PacketError::Timeout(_) => io_err(io::ErrorKind::TimedOut.into()),
                PacketError::Protocol(e) | PacketError::Handler(e) => login_err(e),
            })?;
            match login.on_packet(&packet).map_err(login_err)? {
                AuthStep::Send(p) => session.send(&p).await.map_err(io_err)?,
                AuthStep::Wait => {}
                AuthStep::Done(_) => break,
            }
        }
        tracing::debug!(user = %opts.user, "logged in");
        // The set-up statement is still part of connecting: a connection
        // lost or garbled here is a connection failure (3), not a query one.
        session
            .execute(&session_setup(opts, &greeting))
            .await
            .map_err(|e| match e {
                Error::Stream {
                    source: StreamError::Io(e),
                    ..
                } => io_err(e),
                Error::Stream {
                    source: StreamError::ReadTimeout { .. },
                    ..
                } => io_err(io::ErrorKind::TimedOut.into()),
                Error::Query(ProtocolError::Server(e)) if e.code == ER_UNKNOWN_TIME_ZONE => {
                    Error::Usage(format!(
                        "the server does not know the time zone {:?} (--time-zone): {e}; use \
                         an offset such as +00:00, or load the server's time zone tables \
                         (mariadb-tzinfo-to-sql)",
                        opts.time_zone.as_deref().unwrap_or_default()
                    ))
                }
                Error::Stream {
                    source: StreamError::Protocol(e),
                    ..
                }
                | Error::Query(e) => login_err(e),
                other => other,
            })?;
        Ok(session)
    }

    /// Whether result sets end with OK instead of EOF, and whether column
    /// definitions carry MariaDB extended metadata.
    pub fn decoder(&self) -> QueryDecoder {
        QueryDecoder::new(
            self.negotiated.deprecate_eof(),
            self.negotiated.extended_metadata(),
        )
    }

    async fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        self.send_buf.clear();
        self.framer.encode(payload, &mut self.send_buf);
        self.stream.write_all(&self.send_buf).await
    }

    async fn read_packet(&mut self) -> Result<Vec<u8>, PacketError<ProtocolError>> {
        read_owned(&mut self.stream, &mut self.framer, &mut self.inbuf).await
    }

    /// Sends COM_QUERY; the response is read with [`Session::for_each_packet`].
    pub async fn send_query(&mut self, sql: &str) -> io::Result<()> {
        self.framer.reset_seq();
        self.send(&com_query(sql)).await
    }

    /// Sends `sql` in `protocol`; the response (a text or a binary result
    /// set) is read with [`Session::for_each_packet`], and then the statement
    /// is closed with [`Session::close_statement`]. A statement the server
    /// refuses to prepare runs with COM_QUERY instead: preparing has no side
    /// effects, so the text protocol then gives exactly its own behaviour and
    /// errors.
    pub async fn start_statement(
        &mut self,
        sql: &str,
        protocol: Protocol,
    ) -> Result<Statement, Error> {
        let io = |e: io::Error| Error::Stream {
            rows: 0,
            source: e.into(),
        };
        if protocol == Protocol::Binary {
            match self.prepare(sql).await? {
                // A `?` in the text: the text protocol reports it as the
                // syntax error it is there.
                Ok(ok) if ok.params > 0 => {
                    self.close_statement(Statement::Prepared(ok.statement_id))
                        .await;
                    tracing::info!(
                        "the query has {} parameter placeholders; running it with the text \
                         protocol",
                        ok.params
                    );
                }
                Ok(ok) => {
                    let id = ok.statement_id;
                    tracing::debug!(statement = id, "prepared: the rows arrive in binary");
                    self.framer.reset_seq();
                    self.send(&com_stmt_execute(id)).await.map_err(io)?;
                    return Ok(Statement::Prepared(id));
                }
                Err(refused) => tracing::info!(
                    "the server cannot prepare the query ({refused}); running it with the text \
                     protocol"
                ),
            }
        }
        self.send_query(sql).await.map_err(io)?;
        Ok(Statement::Query)
    }

    /// Prepares `sql`: the server's answer, or its refusal.
    async fn prepare(&mut self, sql: &str) -> Result<Result<PrepareOk, ServerError>, Error> {
        self.framer.reset_seq();
        self.send(&com_stmt_prepare(sql))
            .await
            .map_err(|e| short_response_error(PacketError::Io(e)))?;
        let mut decoder = PrepareDecoder::new(
            self.negotiated.deprecate_eof(),
            self.negotiated.extended_metadata(),
        );
        // The refusal ends the exchange like a last packet (Stop, not an
        // error), so that its bytes are consumed before the next command.
        let mut refused = None;
        self.for_each_packet(false, |payload| match decoder.feed(payload) {
            Ok(PrepareStep::Continue) => Ok(Flow::Continue),
            Ok(PrepareStep::Done) => Ok(Flow::Stop),
            Err(ProtocolError::Server(e)) => {
                refused = Some(e);
                Ok(Flow::Stop)
            }
            Err(e) => Err(e),
        })
        .await
        .map_err(short_response_error)?;
        match (refused, decoder.ok()) {
            (Some(refused), _) => Ok(Err(refused)),
            (None, Some(ok)) => Ok(Ok(ok)),
            (None, None) => Err(Error::Query(ProtocolError::UnexpectedPacket {
                state: "waiting for the response to COM_STMT_PREPARE",
                first_byte: 0,
            })),
        }
    }

    /// Frees a prepared statement once its whole response was read (no
    /// response; errors are left to the next command).
    pub async fn close_statement(&mut self, statement: Statement) {
        if let Statement::Prepared(id) = statement {
            self.framer.reset_seq();
            if let Err(e) = self.send(&com_stmt_close(id)).await {
                tracing::debug!("COM_STMT_CLOSE failed: {e}");
            }
        }
    }

    /// Runs a statement and drains its response; fails on an ERR packet.
    pub async fn execute(&mut self, sql: &str) -> Result<(), Error> {
        let to_error = short_response_error;
        self.send_query(sql)
            .await
            .map_err(|e| to_error(PacketError::Io(e)))?;
        let mut decoder = self.decoder();
        // A short response: batching would only add the flush wait.
        self.for_each_packet(false, |payload| {
            decoder.feed(payload)?;
            Ok(if decoder.is_done() {
                Flow::Stop
            } else {
                Flow::Continue
            })
        })
        .await
        .map_err(to_error)
    }

    /// Runs a statement with a small text result (such as `SHOW WARNINGS`)
    /// and returns its rows, NULL as an empty string. Not for exports: it
    /// collects the rows.
    pub async fn query_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, Error> {
        let (_, rows) = self.query_table(sql).await?;
        Ok(rows
            .into_iter()
            .map(|row| row.into_iter().map(Option::unwrap_or_default).collect())
            .collect())
    }

    /// Runs a statement with a small text result (a plan's `EXPLAIN`, a
    /// `MIN()`) and returns its columns and its rows, NULL as `None`. Not for
    /// exports: it collects the rows.
    pub async fn query_table(
        &mut self,
        sql: &str,
    ) -> Result<(Vec<ColumnDef>, Vec<Vec<Option<String>>>), Error> {
        let to_error = short_response_error;
        self.send_query(sql)
            .await
            .map_err(|e| to_error(PacketError::Io(e)))?;
        let mut decoder = self.decoder();
        let mut columns = Vec::new();
        let mut rows = Vec::new();
        self.for_each_packet(false, |payload| {
            let event = decoder.feed(payload)?;
            let first_columns = matches!(event, Event::Columns) && columns.is_empty();
            if let Event::Row(row) = event {
                rows.push(
                    row.iter()
                        .map(|f| f.map(|f| String::from_utf8_lossy(f).into_owned()))
                        .collect(),
                );
            }
            if first_columns {
                columns = decoder.columns().to_vec();
            }
            Ok(if decoder.is_done() {
                Flow::Stop
            } else {
                Flow::Continue
            })
        })
        .await
        .map_err(to_error)?;
        Ok((columns, rows))
    }

    /// Hands every packet of the current response to `handler`, in order,
    /// as slices of the receive buffer, until it returns [`Flow::Stop`].
    /// Reads the socket in large blocks; no allocation per packet.
    ///
    /// With `batched`, for responses that stream rows, the socket is read
    /// in large batches (see [`batch`]).
    pub async fn for_each_packet<E>(
        &mut self,
        batched: bool,
        mut handler: impl FnMut(&[u8]) -> Result<Flow, E>,
    ) -> Result<(), PacketError<E>> {
        // Large reads while the response streams in; put back at the end.
        let mut mark = (self.stream.tcp())
            .filter(|_| batched)
            .map(batch::LowWater::start);
        let result = self.stream_packets(&mut handler, mark.as_mut()).await;
        if let (Some(mark), Some(tcp)) = (mark, self.stream.tcp()) {
            mark.finish(tcp);
        }
        result
    }

    /// The loop of [`Session::for_each_packet`].
    async fn stream_packets<E>(
        &mut self,
        handler: &mut impl FnMut(&[u8]) -> Result<Flow, E>,
        mut mark: Option<&mut batch::LowWater>,
    ) -> Result<(), PacketError<E>> {
        // One timer for the whole response, moved only when it fires early:
        // arming a timeout around every read (thousands per second) cost a
        // timer-wheel insert, a removal and a clock read each.
        let mut silence = self
            .read_timeout
            .map(|limit| (limit, Box::pin(tokio::time::sleep(limit))));
        let mut last_read = tokio::time::Instant::now();
        loop {
            let input = self.inbuf.filled();
            let mut pos = 0;
            let need = loop {
                match self
                    .framer
                    .decode(&input[pos..])
                    .map_err(PacketError::Protocol)?
                {
                    Decoded::NeedMore(n) => break n,
                    Decoded::Chunk(n) => pos += n,
                    Decoded::Packet { payload, consumed } => {
                        pos += consumed;
                        if handler(payload).map_err(PacketError::Handler)? == Flow::Stop {
                            self.inbuf.consume(pos);
                            return Ok(());
                        }
                    }
                }
            };
            self.inbuf.consume(pos);
            let mut fill =
                std::pin::pin!(self.stream.fill(&mut self.inbuf, need, mark.as_deref_mut()));
            match &mut silence {
                // Bounds the silence between reads, not the whole export.
                Some((limit, timer)) => loop {
                    tokio::select! {
                        biased;
                        read = &mut fill => break read,
                        () = timer.as_mut() => {
                            if last_read.elapsed() >= *limit {
                                return Err(PacketError::Timeout(*limit));
                            }
                            timer.as_mut().reset(last_read + *limit);
                        }
                    }
                },
                None => fill.await,
            }
            .map_err(PacketError::Io)?;
            last_read = tokio::time::Instant::now();
        }
    }

    /// Says goodbye (COM_QUIT) and closes; errors are irrelevant by now.
    pub async fn quit(mut self) {
        self.framer.reset_seq();
        let _ = self.send(&[COM_QUIT]).await;
        let _ = self.stream.shutdown().await;
    }
}

/// The error of a statement with a short response (set-up, `EXPLAIN`,
/// `SHOW WARNINGS`) that failed before any row was exported.
fn short_response_error(e: PacketError<ProtocolError>) -> Error {
    match e {
        PacketError::Io(e) => Error::Stream {
            rows: 0,
            source: e.into(),
        },
        PacketError::Timeout(limit) => Error::Stream {
            rows: 0,
            source: StreamError::ReadTimeout {
                seconds: limit.as_secs(),
            },
        },
        PacketError::Protocol(e) | PacketError::Handler(e) => Error::Query(e),
    }
}

/// The TLS upgrade: the SSL request in clear (sequence id 1), then the TLS
/// handshake on the same socket. The handshake response that follows goes
/// inside TLS with sequence id 2, which the framer's counter provides.
async fn upgrade(
    stream: Transport,
    framer: &mut Framer,
    inbuf: &mut InBuf,
    negotiated: &Negotiated,
    host: &str,
    client: &tls::TlsClient,
    target: &str,
) -> Result<Transport, Error> {
    let io_err = |source| Error::LoginIo {
        target: target.to_string(),
        source,
    };
    let Transport::Tcp(mut tcp) = stream else {
        return Ok(stream);
    };
    // Bytes the server sent after its greeting would be read as plaintext
    // after the switch; a well-behaved server sends nothing until our
    // request, so anything here is an injection attempt.
    if !inbuf.filled().is_empty() {
        return Err(Error::Tls {
            target: target.to_string(),
            message: "the server sent unexpected data before the TLS handshake".into(),
        });
    }
    let mut request = Vec::with_capacity(32);
    negotiated.ssl_request(&mut request);
    let mut packet = Vec::with_capacity(36);
    framer.encode(&request, &mut packet);
    tcp.write_all(&packet).await.map_err(io_err)?;
    tcp.flush().await.map_err(io_err)?;
    let name = tls::server_name(host).map_err(|message| Error::Tls {
        target: target.to_string(),
        message,
    })?;
    let records = transport::handshake(&mut tcp, client.config(), name, inbuf)
        .await
        .map_err(|e| Error::Tls {
            target: target.to_string(),
            message: tls::explain_handshake_error(&e, host),
        })?;
    tracing::debug!(
        version = ?records.protocol_version(),
        cipher = ?records.cipher_suite(),
        "TLS established"
    );
    Ok(Transport::Tls(Box::new(transport::TlsTransport::new(
        tcp, records,
    ))))
}

async fn read_owned(
    stream: &mut Transport,
    framer: &mut Framer,
    inbuf: &mut InBuf,
) -> Result<Vec<u8>, PacketError<ProtocolError>> {
    loop {
        let input = inbuf.filled();
        let mut pos = 0;
        let need = loop {
            match framer
                .decode(&input[pos..])
                .map_err(PacketError::Protocol)?
            {
                Decoded::NeedMore(n) => break n,
                Decoded::Chunk(n) => pos += n,
                Decoded::Packet { payload, consumed } => {
                    let packet = payload.to_vec();
                    inbuf.consume(pos + consumed);
                    return Ok(packet);
                }
            }
        };
        inbuf.consume(pos);
        // The connect timeout bounds the whole login, so no read timeout here.
        stream
            .fill(inbuf, need, None)
            .await
            .map_err(PacketError::Io)?;
    }
}

#[cfg(test)]
mod tests {
    use super::read_only_variable;

    #[test]
    fn the_read_only_variable_follows_the_server_version() {
        for (version, mariadb, name) in [
            ("5.5.5-10.11.6-MariaDB-0+deb12u1", true, "tx_read_only"),
            ("5.5.5-10.4.34-MariaDB", false, "tx_read_only"),
            ("11.0.2-MariaDB", true, "tx_read_only"),
            ("11.4.2-MariaDB-ubu2404", true, "transaction_read_only"),
            ("8.0.36", false, "transaction_read_only"),
            ("8.4.0-commercial", false, "transaction_read_only"),
            ("5.7.44-log", false, "transaction_read_only"),
            ("5.7.19", false, "tx_read_only"),
            ("5.6.51", false, "tx_read_only"),
            ("garbage", false, "tx_read_only"),
        ] {
            assert_eq!(read_only_variable(version, mariadb), name, "{version}");
        }
    }
}
