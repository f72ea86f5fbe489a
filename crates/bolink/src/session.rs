//! The cloud's side of one charging-system connection, as a state machine
//! the platform drives (quinn-proto style): bytes in with `handle_input(now,
//! bytes)`, replies out with `poll_transmit`, work for the application with
//! `poll_event`, the idle deadline with `poll_timeout` / `handle_timeout`.
//! Time is milliseconds passed in; nothing here reads a clock or a socket.
//!
//! The rules, as the vendor's cloud keeps them: `login` first (its sign is
//! checked with the lot's key, which the application looks up: `accept_login`
//! / `refuse_login`; a refused login closes the connection), then every
//! message carries the login's token and a good sign; more than 100 messages
//! in 10 s on a token is answered `request_over_times`; an exact resend of
//! `in_park` / `out_park` / `upload_order` (same sign) is answered as already
//! processed. onepark remembers a sign only once the application answered
//! it with success: a message whose storing failed is taken again.

use std::collections::{HashSet, VecDeque};

use crate::envelope::{Envelope, EnvelopeError, Reply};
use crate::frame::{Frame, Framer, HEARTBEAT_REPLY, encode};
use crate::message::{Login, deduplicated, echo};

/// The bounds of a session.
#[derive(Clone, Debug)]
pub struct Config {
    pub max_line: usize,
    /// Messages allowed per window on a token (the vendor: 100 in 10 s).
    pub rate_max: usize,
    pub rate_window_ms: i64,
    /// Signs remembered for duplicate suppression (the vendor: 5,000).
    pub remember: usize,
    /// Silence after which the connection is closed (the SDK heartbeats every few seconds).
    pub idle_ms: i64,
    /// A connection not logged in by then is closed (heartbeats or refused
    /// lines do not keep an anonymous connection open).
    pub login_ms: i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_line: crate::frame::DEFAULT_MAX_LINE,
            rate_max: 100,
            rate_window_ms: 10_000,
            remember: 5_000,
            idle_ms: 120_000,
            login_ms: 30_000,
        }
    }
}

/// What the application is asked to do.
#[derive(Debug)]
pub enum Event {
    /// A login to authenticate: look up `park_id`'s key, then
    /// [`Session::accept_login`] or [`Session::refuse_login`].
    Login(Login),
    /// A verified message of the logged-in lot: store it, then [`Session::reply`].
    Message(Envelope),
    /// The session is over (refused login, silence): close the connection.
    Close(String),
}

#[derive(Debug)]
enum State {
    /// Waiting for `login`.
    Anonymous,
    /// A login waiting for the application's verdict (its envelope kept to check the sign).
    LoggingIn(Box<Envelope>, Login),
    Ready {
        key: String,
        token: String,
        login: Login,
    },
    Closed,
}

#[derive(Debug)]
pub struct Session {
    config: Config,
    framer: Framer,
    state: State,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    /// Arrival times of the messages in the current rate window.
    window: VecDeque<i64>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    last_input: i64,
    opened: i64,
}

impl Session {
    pub fn new(config: Config, now: i64) -> Session {
        let framer = Framer::new(config.max_line);
        Session {
            config,
            framer,
            state: State::Anonymous,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            window: VecDeque::new(),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            last_input: now,
            opened: now,
        }
    }

    fn send(&mut self, reply: &Reply) {
        self.transmit.push_back(encode(&reply.to_json()));
    }

    fn close(&mut self, why: &str) {
        if !matches!(self.state, State::Closed) {
            self.state = State::Closed;
            self.events.push_back(Event::Close(why.to_owned()));
        }
    }

    /// Bytes from the charging system.
    pub fn handle_input(&mut self, now: i64, bytes: &[u8]) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.last_input = now;
        for frame in self.framer.push(bytes) {
            match frame {
                Frame::Heartbeat => self.transmit.push_back(vec![HEARTBEAT_REPLY]),
                Frame::TooLong { limit } => {
                    self.send(&Reply::refused("", &format!("消息超过 {limit} 字节，已丢弃")));
                }
                Frame::Line(line) => self.handle_line(now, &line),
            }
        }
    }

    fn handle_line(&mut self, now: i64, line: &[u8]) {
        let e = match Envelope::parse(line) {
            Ok(e) => e,
            Err(EnvelopeError::NotJson(why)) => {
                return self.send(&Reply::refused("", &format!("不是 JSON 消息：{why}")));
            }
            Err(err) => return self.send(&Reply::refused("", &err.to_string())),
        };
        match &self.state {
            State::Closed => {}
            State::LoggingIn(..) => self.send(&Reply::refused(&e.service_name, "登录处理中，请稍候")),
            State::Anonymous if e.service_name != "login" => {
                self.send(&Reply::refused(&e.service_name, "error:token无效"))
            }
            State::Anonymous => match Login::read(&e) {
                Ok(login) => {
                    self.events.push_back(Event::Login(login.clone()));
                    self.state = State::LoggingIn(Box::new(e), login);
                }
                Err(why) => {
                    self.send(&Reply::refused("login", &why.0));
                    self.close("login without park_id");
                }
            },
            State::Ready { key, token, .. } => {
                if e.service_name == "login" {
                    return self.send(&Reply::refused("login", "已登录"));
                }
                match e.token.as_deref() {
                    None => return self.send(&Reply::refused(&e.service_name, "未识别到token标记")),
                    Some(t) if t != token => return self.send(&Reply::refused(&e.service_name, "error:token无效")),
                    Some(_) => {}
                }
                if !crate::sign::verify(&e.data_text, key, &e.sign) {
                    return self.send(&Reply::refused(&e.service_name, "error:签名错误"));
                }
                while self.window.front().is_some_and(|t| *t <= now - self.config.rate_window_ms) {
                    self.window.pop_front();
                }
                if self.window.len() >= self.config.rate_max {
                    return self.send(&Reply::refused(&e.service_name, "request_over_times"));
                }
                self.window.push_back(now);
                if deduplicated(&e.service_name) && self.seen.contains(&e.sign.to_ascii_uppercase()) {
                    let reply = Reply::refused(&e.service_name, "数据已处理过，请勿重复上传")
                        .with("order_id", echo(&e, "order_id"))
                        .with("car_number", echo(&e, "car_number"));
                    return self.send(&reply);
                }
                self.events.push_back(Event::Message(e));
            }
        }
    }

    /// The lot's key is `key`: its login is checked and, signed right, accepted with `token`.
    pub fn accept_login(&mut self, key: &str, token: &str) {
        let State::LoggingIn(e, login) = std::mem::replace(&mut self.state, State::Anonymous) else { return };
        if crate::sign::verify(&e.data_text, key, &e.sign) {
            self.send(&Reply::ok("login").with("token", token));
            self.state = State::Ready { key: key.to_owned(), token: token.to_owned(), login: *Box::new(login) };
        } else {
            self.send(&Reply::refused("login", "error:签名错误"));
            self.close("login sign");
        }
    }

    /// No such lot (or not allowed): refused with `errmsg`, then closed.
    pub fn refuse_login(&mut self, errmsg: &str) {
        if matches!(self.state, State::LoggingIn(..)) {
            self.send(&Reply::refused("login", errmsg));
            self.close("login refused");
        }
    }

    /// The application's answer to a [`Event::Message`]: sent, and a success
    /// of a deduplicated service remembers its sign.
    pub fn reply(&mut self, to: &Envelope, reply: &Reply) {
        if reply.state() == 1 && deduplicated(&to.service_name) {
            let sign = to.sign.to_ascii_uppercase();
            if self.seen.insert(sign.clone()) {
                self.seen_order.push_back(sign);
                if self.seen_order.len() > self.config.remember
                    && let Some(old) = self.seen_order.pop_front()
                {
                    self.seen.remove(&old);
                }
            }
        }
        self.send(reply);
    }

    /// A message of the cloud's own to the charging system (a downlink).
    pub fn push(&mut self, json: &str) {
        self.transmit.push_back(encode(json));
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When silence ends the session.
    pub fn poll_timeout(&self) -> Option<i64> {
        let idle = self.last_input + self.config.idle_ms;
        match self.state {
            State::Closed => None,
            State::Ready { .. } => Some(idle),
            _ => Some(idle.min(self.opened + self.config.login_ms)),
        }
    }

    pub fn handle_timeout(&mut self, now: i64) {
        if self.poll_timeout().is_some_and(|t| now >= t) {
            let why = if self.login().is_some() { "silent" } else { "no login" };
            self.close(why);
        }
    }

    /// The logged-in lot, once accepted.
    pub fn login(&self) -> Option<&Login> {
        match &self.state {
            State::Ready { login, .. } => Some(login),
            _ => None,
        }
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }
}
