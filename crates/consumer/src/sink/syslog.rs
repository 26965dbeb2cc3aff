//! Syslog, RFC 5424 messages over TCP with octet counting (RFC 6587), over TLS (RFC 5425, same
//! framing) and over UDP (RFC 5426, one message per datagram).
//!
//! TLS is done by rustls in this library (native builds); the WASI component has no TLS of its
//! own and forwards over TCP or UDP.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use chrono::{DateTime, Utc};
use logport_core::view::{GroupView, LogView};

use super::{Format, Sink, SinkError, backoff, render_into};

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Tls,
    Udp,
}

/// Settings of a syslog sink.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// `host:port` of the receiver.
    pub address: String,
    pub protocol: Protocol,
    /// Facility 0-23 (default 16, local0).
    #[serde(default = "default_facility")]
    pub facility: u8,
    /// Severity 0-7 (default 6, informational).
    #[serde(default = "default_severity")]
    pub severity: u8,
    /// HOSTNAME; default: the log group's source (or `-`).
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// MSGID; default `-`.
    #[serde(default)]
    pub msg_id: Option<String>,
    #[serde(default)]
    pub format: Format,
    /// TLS: the CA certificates (PEM) that sign the receiver's certificate.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// TLS client authentication: certificate chain and private key (PEM).
    #[serde(default)]
    pub cert_file: Option<String>,
    #[serde(default)]
    pub key_file: Option<String>,
    /// TLS: the name the receiver's certificate must carry (default: the host of `address`).
    #[serde(default)]
    pub server_name: Option<String>,
    /// UDP: longest datagram; longer messages are cut (counted in `truncated`).
    #[serde(default = "default_max_datagram")]
    pub max_datagram: usize,
    /// Attempts (with a new connection each) before the batch goes back to the worker.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_facility() -> u8 {
    16
}
fn default_severity() -> u8 {
    6
}
fn default_app_name() -> String {
    "logport".into()
}
fn default_max_datagram() -> usize {
    8192
}
fn default_attempts() -> u32 {
    5
}

impl SyslogConfig {
    /// Checks the values that have ranges.
    pub fn validate(&self) -> Result<(), String> {
        if self.facility > 23 {
            return Err(format!("facility must be 0-23, not {}", self.facility));
        }
        if self.severity > 7 {
            return Err(format!("severity must be 0-7, not {}", self.severity));
        }
        if self.app_name.is_empty() || self.app_name.len() > 48 || !printable(&self.app_name) {
            return Err(format!("app_name must be 1-48 printable ASCII characters, not '{}'", self.app_name));
        }
        if self.protocol != Protocol::Tls && (self.ca_file.is_some() || self.cert_file.is_some()) {
            return Err("ca_file and cert_file are TLS settings (protocol = \"tls\")".into());
        }
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err("cert_file and key_file go together".into());
        }
        Ok(())
    }
}

fn printable(text: &str) -> bool {
    text.bytes().all(|byte| (33..=126).contains(&byte))
}

/// A header field: printable ASCII, at most `max` bytes, `-` when empty.
fn field(text: Option<&str>, max: usize) -> String {
    let cleaned: String = text.unwrap_or("").chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if cleaned.is_empty() { "-".into() } else { cleaned }
}

/// One RFC 5424 message (without framing).
pub fn message(config: &SyslogConfig, group: &GroupView<'_>, log: &LogView) -> String {
    let mut out = Vec::new();
    let mut writer = MessageWriter::default();
    writer.start_group(config, group);
    writer.write(&mut out, config, group, log);
    String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
}

/// Writes RFC 5424 messages without allocating per log: the part of the header a log group
/// shares is made once per group, the timestamp's date and time once per second.
#[derive(Debug, Default)]
struct MessageWriter {
    /// `HOSTNAME APP-NAME - MSGID - ` of the current group.
    group_header: Vec<u8>,
    second: Option<u32>,
    /// `YYYY-MM-DDTHH:MM:SS` of `second`.
    stamp: String,
}

impl MessageWriter {
    fn start_group(&mut self, config: &SyslogConfig, group: &GroupView<'_>) {
        let hostname = field(config.hostname.as_deref().or(Some(group.source)), 255);
        let app_name = field(Some(&config.app_name), 48);
        let msg_id = field(config.msg_id.as_deref(), 32);
        self.group_header.clear();
        self.group_header.extend_from_slice(format!("{hostname} {app_name} - {msg_id} - ").as_bytes());
    }

    fn write(&mut self, out: &mut Vec<u8>, config: &SyslogConfig, group: &GroupView<'_>, log: &LogView) {
        let pri = u16::from(config.facility) * 8 + u16::from(config.severity);
        out.push(b'<');
        push_decimal(out, usize::from(pri));
        out.extend_from_slice(b">1 ");
        if self.second != Some(log.time) {
            self.second = Some(log.time);
            self.stamp = DateTime::<Utc>::from_timestamp(i64::from(log.time), 0)
                .map(|time| time.format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default();
        }
        if self.stamp.is_empty() {
            out.extend_from_slice(b"- ");
        } else {
            let millis = log.time_ns.unwrap_or(0) % 1_000_000_000 / 1_000_000;
            out.extend_from_slice(self.stamp.as_bytes());
            let digits =
                [b'.', b'0' + (millis / 100) as u8, b'0' + (millis / 10 % 10) as u8, b'0' + (millis % 10) as u8];
            out.extend_from_slice(&digits);
            out.extend_from_slice(b"Z ");
        }
        out.extend_from_slice(&self.group_header);
        render_into(out, group, log, config.format);
    }
}

/// Appends `value` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut value: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

enum Connection {
    Tcp(TcpStream),
    #[cfg(feature = "native")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Udp(UdpSocket),
}

impl Connection {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.write_all(bytes),
            #[cfg(feature = "native")]
            Self::Tls(stream) => stream.write_all(bytes),
            Self::Udp(socket) => socket.send(bytes).map(|_| ()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.flush(),
            #[cfg(feature = "native")]
            Self::Tls(stream) => stream.flush(),
            Self::Udp(_) => Ok(()),
        }
    }

    fn close(&mut self) {
        match self {
            Self::Tcp(stream) => {
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
            #[cfg(feature = "native")]
            Self::Tls(stream) => {
                stream.conn.send_close_notify();
                let _ = stream.flush();
                let _ = stream.sock.shutdown(std::net::Shutdown::Write);
            }
            Self::Udp(_) => {}
        }
    }
}

/// A syslog sink.
pub struct SyslogSink {
    config: SyslogConfig,
    connection: Option<Connection>,
    #[cfg(feature = "native")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    writer: MessageWriter,
    /// Messages written to the receiver.
    pub delivered: u64,
    /// UDP messages cut to `max_datagram`.
    pub truncated: u64,
}

impl std::fmt::Debug for SyslogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogSink")
            .field("address", &self.config.address)
            .field("protocol", &self.config.protocol)
            .field("delivered", &self.delivered)
            .finish()
    }
}

impl SyslogSink {
    /// Checks the settings and (for TLS) loads the certificates; connects on first use.
    pub fn new(config: SyslogConfig) -> Result<Self, String> {
        config.validate()?;
        #[cfg(feature = "native")]
        let tls = match config.protocol {
            Protocol::Tls => Some(std::sync::Arc::new(tls_config(&config)?)),
            _ => None,
        };
        #[cfg(not(feature = "native"))]
        if config.protocol == Protocol::Tls {
            return Err("syslog over TLS needs the native build (the component forwards over TCP or UDP)".into());
        }
        Ok(SyslogSink {
            config,
            connection: None,
            #[cfg(feature = "native")]
            tls,
            writer: MessageWriter::default(),
            delivered: 0,
            truncated: 0,
        })
    }

    fn connect(&self) -> std::io::Result<Connection> {
        let address = self
            .config
            .address
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("'{}' resolves to no address", self.config.address)))?;
        match self.config.protocol {
            Protocol::Udp => {
                let local = if address.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                let socket = UdpSocket::bind(local)?;
                socket.connect(address)?;
                Ok(Connection::Udp(socket))
            }
            Protocol::Tcp | Protocol::Tls => {
                let stream = TcpStream::connect_timeout(&address, Duration::from_secs(10))?;
                stream.set_write_timeout(Some(Duration::from_secs(30)))?;
                stream.set_nodelay(true)?;
                #[cfg(feature = "native")]
                if let Some(tls) = &self.tls {
                    let host = self.config.address.rsplit_once(':').map_or(self.config.address.as_str(), |(h, _)| h);
                    let name =
                        self.config.server_name.clone().unwrap_or_else(|| host.trim_matches(['[', ']']).to_owned());
                    let name = rustls::pki_types::ServerName::try_from(name.clone())
                        .map_err(|error| std::io::Error::other(format!("TLS server name '{name}': {error}")))?;
                    let connection = rustls::ClientConnection::new(tls.clone(), name).map_err(std::io::Error::other)?;
                    let mut stream = rustls::StreamOwned::new(connection, stream);
                    // Finish the handshake now, so that certificate errors surface at connect.
                    while stream.conn.is_handshaking() {
                        stream.conn.complete_io(&mut stream.sock)?;
                    }
                    return Ok(Connection::Tls(Box::new(stream)));
                }
                Ok(Connection::Tcp(stream))
            }
        }
    }

    /// The framed bytes of a batch (octet counting for TCP/TLS), or the datagrams for UDP.
    fn frames(&mut self, groups: &[GroupView<'_>]) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        let mut stream = Vec::new();
        let mut message = Vec::with_capacity(1024);
        for group in groups {
            self.writer.start_group(&self.config, group);
            for log in &group.logs {
                message.clear();
                self.writer.write(&mut message, &self.config, group, log);
                match self.config.protocol {
                    Protocol::Udp => {
                        if message.len() > self.config.max_datagram {
                            message.truncate(self.config.max_datagram);
                            self.truncated += 1;
                        }
                        frames.push(message.clone());
                    }
                    Protocol::Tcp | Protocol::Tls => {
                        push_decimal(&mut stream, message.len());
                        stream.push(b' ');
                        stream.extend_from_slice(&message);
                    }
                }
            }
        }
        if !stream.is_empty() {
            frames.push(stream);
        }
        frames
    }
}

impl Sink for SyslogSink {
    fn send(&mut self, groups: &[GroupView<'_>]) -> Result<(), SinkError> {
        let count: u64 = groups.iter().map(|group| group.logs.len() as u64).sum();
        let frames = self.frames(groups);
        let mut last = String::new();
        for attempt in 0..self.config.attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(backoff(attempt, Duration::from_secs(5)));
            }
            let mut connection = match self.connection.take() {
                Some(connection) => connection,
                None => match self.connect() {
                    Ok(connection) => connection,
                    Err(error) => {
                        last = format!("cannot connect to syslog receiver {}: {error}", self.config.address);
                        continue;
                    }
                },
            };
            let written =
                frames.iter().try_for_each(|frame| connection.write_all(frame)).and_then(|()| connection.flush());
            match written {
                Ok(()) => {
                    self.connection = Some(connection);
                    self.delivered += count;
                    return Ok(());
                }
                // The whole batch is written again on a new connection: at least once.
                Err(error) => last = format!("writing to syslog receiver {}: {error}", self.config.address),
            }
        }
        Err(SinkError(last))
    }

    fn close(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            connection.close();
        }
    }
}

#[cfg(feature = "native")]
fn tls_config(config: &SyslogConfig) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let ca_file = config.ca_file.as_deref().ok_or("syslog over TLS needs ca_file (the receiver's CA, PEM)")?;
    let mut roots = rustls::RootCertStore::empty();
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
        .map_err(|error| format!("ca_file {ca_file}: {error}"))?
        .collect::<Result<_, _>>()
        .map_err(|error| format!("ca_file {ca_file}: {error}"))?;
    if certificates.is_empty() {
        return Err(format!("ca_file {ca_file} holds no certificate"));
    }
    for certificate in certificates {
        roots.add(certificate).map_err(|error| format!("ca_file {ca_file}: {error}"))?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots);
    match (&config.cert_file, &config.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
                .map_err(|error| format!("cert_file {cert_file}: {error}"))?
                .collect::<Result<_, _>>()
                .map_err(|error| format!("cert_file {cert_file}: {error}"))?;
            let key =
                PrivateKeyDer::from_pem_file(key_file).map_err(|error| format!("key_file {key_file}: {error}"))?;
            builder.with_client_auth_cert(chain, key).map_err(|error| format!("client certificate: {error}"))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(protocol: Protocol) -> SyslogConfig {
        SyslogConfig {
            address: "127.0.0.1:1".into(),
            protocol,
            facility: 16,
            severity: 6,
            hostname: None,
            app_name: "logport".into(),
            msg_id: Some("cg".into()),
            format: Format::Kv,
            ca_file: None,
            cert_file: None,
            key_file: None,
            server_name: None,
            max_datagram: 40,
            attempts: 1,
        }
    }

    #[test]
    fn formats_rfc5424() {
        let bytes = crate::sink::tests::sample_bytes();
        let group = &crate::sink::tests::views(&bytes)[0];
        assert_eq!(
            message(&config(Protocol::Tcp), group, &group.logs[0]),
            "<134>1 2023-11-14T22:13:20.123Z 10.0.0.1 logport - cg - \
             status=500||path=/a b||__topic__=nginx||__source__=10.0.0.1||__tag__:host=web-1"
        );
        let mut spaced = config(Protocol::Tcp);
        spaced.hostname = Some("my host".into());
        spaced.msg_id = None;
        assert!(
            message(&spaced, group, &group.logs[0])
                .starts_with("<134>1 2023-11-14T22:13:20.123Z myhost logport - - - ")
        );
    }

    #[test]
    fn frames_by_octet_counting_and_cuts_datagrams() {
        let bytes = crate::sink::tests::sample_bytes();
        let group = crate::sink::tests::views(&bytes).remove(0);
        let mut tcp = SyslogSink::new(config(Protocol::Tcp)).unwrap();
        let frames = tcp.frames(&[group.clone(), group.clone()]);
        assert_eq!(frames.len(), 1);
        let one = message(&config(Protocol::Tcp), &group, &group.logs[0]);
        assert_eq!(String::from_utf8(frames[0].clone()).unwrap(), format!("{0} {1}{0} {1}", one.len(), one));
        let mut udp = SyslogSink::new(config(Protocol::Udp)).unwrap();
        let frames = udp.frames(&[group]);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].len(), 40);
        assert_eq!(udp.truncated, 1);
    }

    #[test]
    fn refuses_bad_settings() {
        let mut bad = config(Protocol::Tcp);
        bad.facility = 24;
        assert!(SyslogSink::new(bad).unwrap_err().contains("facility"));
        let mut bad = config(Protocol::Tls);
        bad.ca_file = None;
        assert!(SyslogSink::new(bad).unwrap_err().contains("ca_file"));
        let mut bad = config(Protocol::Tcp);
        bad.ca_file = Some("/x".into());
        assert!(SyslogSink::new(bad).unwrap_err().contains("TLS settings"));
    }

    #[test]
    fn an_unreachable_receiver_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let mut unreachable = config(Protocol::Tcp);
        unreachable.address = address;
        let mut sink = SyslogSink::new(unreachable).unwrap();
        let bytes = crate::sink::tests::sample_bytes();
        let error = sink.send(&crate::sink::tests::views(&bytes)).unwrap_err();
        assert!(error.0.contains("cannot connect"), "{error}");
        assert_eq!(sink.delivered, 0);
    }
}
