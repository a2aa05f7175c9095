// The young person's chat engine for the widget: the JavaScript port of
// helpline/client/youth.py, written from docs/protocol.md (section 3, 5, 6a) and
// docs/crypto.md. The UI drives it and listens to its events; it holds every key and
// every plaintext in memory only (close() wipes them).
//
// The socket.io client is injected (`io` of npm socket.io-client), so the same file
// runs in Node tests and in the bundle:
//   const chat = new YouthChat({ url, pinnedFingerprint, io });
//   await chat.connect(); await chat.open({ intake: true });
//
// Events (EventTarget; `detail` on a CustomEvent):
//   "change"   anything a getter shows changed
//   "message"  a message was decrypted (detail: the entry of `messages`)
//   "typing"   detail {role, typing}
//   "error"    detail {code, message} (a background step failed: resync, re-key, ...)
//   "urgent"   detail {text, emergency}: the intake flagged danger, show 112 at once
//   "code_used" the return code was used on another device (this one stays bound)
import {
  CryptoError, YouthKeyring, b64urlDecode, b64urlEncode, epochStatementFromWire,
  readPlaintext, readReferral, signConsent, consentToWire, staffRefusalAt, utf8, verifyEpochStatement,
  verifyKeyStatement, wrapConversationKey, checkSendable, hexEncode, fromUtf8,
} from "../crypto/index.js";
import { codeWrapPayload, parseCodeWrapPayload, strictJsonParse } from "../crypto/codewrap.js";
import { Transcript } from "./transcript.js";

// Return codes (scrypt, the word list) load only when used: most young people never ask
// for one, and the app's first load stays within its budget (widgets/build.mjs).
const returnCodes = () => import("../crypto/returncode.js");

/** A refusal from the server (`code` from docs/protocol.md, section 7) or of this client. */
export class ChatError extends Error {
  constructor(code, message) {
    super(`${code}: ${message ?? code}`);
    this.name = "ChatError";
    this.code = code;
  }
}

// What a reloaded tab gets back (docs/security.md, "A reload mid-chat"): a prefix, then JSON.
const TAB_STATE = "helpline-tab-1:";
const TAB_TOKEN = /^[A-Za-z0-9_.-]{1,200}$/;

const UNBOUND_EVENTS = new Set(["keys", "open", "resume", "resume_code"]);
const POLICE_GONE = new Set(["left", "ended", "expired", "withdrawn"]);
const STATES = new Set(["new", "intake", "queued", "offline", "active", "ended", "closed"]);
/** Signals the young person can send inside the encrypted channel (see sendSignal). */
export const SIGNALS = Object.freeze(["cannot_talk"]);
const now = () => Math.floor(Date.now() / 1000);
const randomId = () => (globalThis.crypto.randomUUID ? globalThis.crypto.randomUUID()
  : b64urlEncode(globalThis.crypto.getRandomValues(new Uint8Array(16))));

class CustomEventLike extends Event {
  constructor(type, detail) { super(type); this.detail = detail; }
}

export class YouthChat extends EventTarget {
  /**
   * url: the server origin (the namespace is added); pinnedFingerprint: the organisation
   * key's fingerprint from the embed snippet; io: socket.io-client's `io`; language: the
   * default for `open`. socketOptions: extra options for `io` (Node tests pass
   * `extraHeaders: {Origin}`); consentSeconds: how long a police consent lasts (<= 1 day);
   * callTimeoutMs: how long a call waits for its ack; revocationCheckMs: how often an
   * open chat fetches the revocation list again (also after every reconnect).
   */
  constructor({ url, pinnedFingerprint, io, language, namespace = "/youth", socketOptions = {},
                consentSeconds = 3600, callTimeoutMs = 20_000, revocationCheckMs = 300_000 } = {}) {
    super();
    if (typeof io !== "function") throw new TypeError("YouthChat needs socket.io-client's io function");
    this._url = url.replace(/\/+$/, "") + namespace;
    this._io = io;
    this._socketOptions = socketOptions;
    this._language = language;
    this._consentSeconds = Math.min(consentSeconds, 86_400 - 60);
    this._timeout = callTimeoutMs;
    this._revocationCheckMs = revocationCheckMs;
    this._keyring = new YouthKeyring(pinnedFingerprint);
    this._reset();
  }

  _reset() {
    this._socket = null;
    this._bound = false;
    this._boundWaiters = new Set();
    this._connects = 0;
    this._state = "new";
    this._position = 0;
    this._queueLength = 0;
    this._prompt = null;
    this._skipLabel = null;
    this._notice = null;
    this._offer = null;
    this._handover = null;
    this._conversationId = null;
    this._resumeToken = null;
    this._transcript = new Transcript();
    this._opened = []; // decrypted entries, one per transcript envelope
    this._announced = 0;
    this._local = []; // this device's messages: sending, or sent but not read back yet
    this._reader = null;
    this._team = null; // verified team key (EncryptionPublicKey)
    this._teamError = null; // why the team key did not verify
    this._police = null;
    this._consent = null;
    this._policeState = null;
    this._lapse = null;
    this._revocationTimer = null;
    this._codeKeys = null;
    this._intakeLog = [];
    this._epochChain = Promise.resolve();
    this._readChain = Promise.resolve();
    this._sendChain = Promise.resolve();
    this._sealChain = Promise.resolve();
    this._filling = null;
    this._closed = false;
  }

  // -- getters the UI reads --------------------------------------------------------------
  get state() { return this._state; }
  get position() { return this._position; }
  get queueLength() { return this._queueLength; }
  get prompt() { return this._prompt; }
  get skipLabel() { return this._skipLabel; }
  /** The last text the server gave to show (intake done/urgent, offline, invited), or null. */
  get notice() { return this._notice; }
  get readers() { return this._keyring.readers; }
  get offer() { return this._offer; }
  /** The police part's state as the last `handover` event said ("joined", ...), or null. */
  get handover() { return this._handover; }
  get conversationId() { return this._conversationId; }
  get connected() { return !!this._socket?.connected; }
  /** Connected and bound to the conversation (false while reconnecting and resuming). */
  get online() { return this.connected && this._bound; }
  get teamKeyVerified() { return this._team !== null; }
  get messages() {
    const read = this._opened.map((e) => ({ ...e }));
    const lastRead = read.length ? read.at(-1).seq : 0;
    const local = this._local.filter((m) => m.seq === null || m.seq > lastRead)
      .map(({ seq, kind, text, sentAt, status, signal }) => ({ seq, role: "youth", kind, text, signal, sentAt, mine: true,
        status: status === "sealing" ? "sending" : status, error: null }));
    return [...read, ...local];
  }

  // -- connection ----------------------------------------------------------------------------
  async connect() {
    if (this._closed) throw new ChatError("closed", "this chat was closed");
    if (this._socket) return;
    const socket = this._io(this._url, { transports: ["websocket"], reconnectionDelay: 500,
      reconnectionDelayMax: 5000, ...this._socketOptions });
    this._socket = socket;
    socket.on("connect", () => this._onConnect());
    socket.on("disconnect", () => { this._setBound(false); this._changed(); });
    socket.on("message", (env) => this._onEnvelope(env));
    socket.on("typing", (d) => this._emit("typing", { role: d?.role, typing: !!d?.typing }));
    socket.on("state", (d) => this._onState(d));
    socket.on("queue_position", (d) => { this._position = d.position; this._queueLength = d.queue_length; this._changed(); });
    socket.on("handover_offer", (d) => this._onOffer(d).catch((e) => this._error(e)));
    socket.on("handover", (d) => this._onHandover(d));
    socket.on("resync", () => this._fillGap().catch((e) => this._error(e)));
    socket.on("code_used", () => this._emit("code_used", {}));
    await new Promise((resolve, reject) => {
      if (socket.connected) return resolve();
      const ok = () => { socket.off("connect_error", bad); resolve(); };
      const bad = (err) => { socket.off("connect", ok); reject(new ChatError("connect_failed", String(err?.message ?? err))); };
      socket.once("connect", ok);
      socket.once("connect_error", bad);
    });
  }

  _onConnect() {
    this._connects += 1;
    if (this._connects > 1 && this._resumeToken) this._resume().catch((e) => this._error(e));
    this._changed();
  }

  /** After a reconnect: bind again, take what was missed, then send what waited. */
  async _resume() {
    const r = await this._call("resume", { resume_token: this._resumeToken, last_seq: this._transcript.lastSeq });
    this._setBound(true);
    this._setState(r.state);
    this._position = r.position ?? 0;
    this._queueLength = r.queue_length ?? 0;
    if (r.state === "intake") this._prompt = r.prompt ?? this._prompt;
    for (const env of r.messages) this._transcript.add(env);
    await this._fillGap();
    this._flush();
    await this._checkRevocations();
  }

  /**
   * Fetch the revocation list again (the server pushes no event for it). A newer list
   * re-reads the transcript, so a staff message signed at or after a key's revocation
   * shows as refused (key_revoked), also one read before the list arrived.
   */
  async _checkRevocations() {
    if (!this._conversationId || !this._bound || this._closed) return;
    const tracker = this._keyring.revocations;
    const before = tracker.signedBytes;
    await tracker.accept((await this._call("keys")).revocations ?? null);
    if (tracker.signedBytes !== before) {
      this._reader = null; // rebuilt from fresh conversation_keys, with the new list
      await this._read();
      this._changed();
    }
  }

  _armRevocationCheck() {
    if (this._revocationTimer || !this._revocationCheckMs) return;
    this._revocationTimer = setInterval(() => this._checkRevocations().catch((e) => this._error(e)), this._revocationCheckMs);
  }

  /** The team key for a new epoch: the directory's, verified now; else the one already
   *  verified, unless the newest revocation list names it. */
  async _currentTeam() {
    try {
      this._team = await this._keyring.trustedTeamKey(await this._call("keys"), now());
    } catch (e) {
      if (!(e instanceof CryptoError) || !this._team) throw e;
      this._keyring.revocations.current.check(this._team.fingerprint, now());
    }
    return this._team;
  }

  /** Resolves once this connection is bound to the conversation again (after a reconnect). */
  _whenBound(timeout) {
    if (this._bound) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this._boundWaiters.delete(done); reject(new ChatError("no_ack", "not connected")); }, timeout);
      const done = () => { clearTimeout(timer); resolve(); };
      this._boundWaiters.add(done);
    });
  }

  _setBound(bound) {
    this._bound = bound;
    if (bound) {
      for (const done of this._boundWaiters) done();
      this._boundWaiters.clear();
    }
  }

  async _call(event, payload = {}, timeout = this._timeout) {
    const socket = this._socket;
    if (!socket) throw new ChatError("not_connected", "connect() first");
    // Never emit while unbound (protocol.md, section 2): wait for the resume.
    if (this._conversationId && !UNBOUND_EVENTS.has(event)) await this._whenBound(timeout);
    return socket.timeout(timeout).emitWithAck(event, payload).then((ack) => {
      if (ack && ack.error) throw new ChatError(ack.error.code, ack.error.message);
      if (!ack || typeof ack.ok !== "object") throw new ChatError("bad_ack", "unexpected ack");
      return ack.ok;
    }, (err) => { throw new ChatError("no_ack", String(err?.message ?? err)); });
  }

  // -- open and the intake assistant ------------------------------------------------------
  /** Verify the team key, open the conversation, start epoch 1. Returns the ack of `open`. */
  async open({ intake = true, language, browserLanguage, campaign, invite } = {}) {
    if (this._conversationId) throw new ChatError("already_open", "this chat has a conversation");
    await this.connect();
    // Verify before anything exists on the server: a swapped key opens nothing.
    try {
      this._team = await this._keyring.trustedTeamKey(await this._call("keys"), now());
      this._teamError = null;
    } catch (e) {
      this._teamError = e;
      this._changed();
      throw e;
    }
    const payload = { language: language ?? this._language, browser_language: browserLanguage, invite, campaign };
    for (const k of Object.keys(payload)) if (payload[k] === undefined || payload[k] === null) delete payload[k];
    if (intake && !invite) payload.intake = true;
    const r = await this._call("open", payload);
    this._conversationId = r.conversation_id;
    this._resumeToken = r.resume_token;
    this._setBound(true);
    this._prompt = r.prompt ?? null;
    this._skipLabel = r.skip_label ?? null;
    this._notice = r.offline?.text ?? r.text ?? null;
    this._position = r.position ?? 0;
    this._queueLength = r.queue_length ?? 0;
    this._setState(r.state);
    await this._withEpochLock(async () => {
      await this._keyring.init();
      await this._call("epoch", await this._keyring.newEpoch(this._conversationId, this._team));
    });
    this._armRevocationCheck();
    this._changed();
    this._flush();
    return r;
  }

  /** Answer the assistant's current question (a button value, free text, or both). */
  async answerIntake({ choice, text } = {}) {
    if (!this._prompt) throw new ChatError("no_prompt", "the intake assistant asked nothing");
    const payload = { step: this._prompt.step };
    if (choice) payload.choice = choice;
    if (text) payload.text = text;
    const r = await this._call("intake_answer", payload);
    this._intakeLog.push({ question: this._prompt.text, choice: choice ?? null, text: text || null });
    await this._afterIntake(r);
    return r;
  }

  async skipIntake() {
    const r = await this._call("intake_skip");
    await this._afterIntake(r);
    return r;
  }

  async _afterIntake(r) {
    this._prompt = r.prompt ?? null;
    if (r.state) this._setState(r.state);
    if (r.position !== undefined) this._position = r.position;
    if (r.queue_length !== undefined) this._queueLength = r.queue_length;
    if (!this._prompt) {
      this._notice = r.text ?? null;
      if (r.offline?.text) this._notice = `${this._notice ?? ""}${this._notice ? "\n" : ""}${r.offline.text}`;
      if (r.urgent || r.emergency) this._emit("urgent", { text: r.text ?? null, emergency: r.emergency ?? "112" });
      if (this._intakeLog.length) {
        // The server kept no free text: this client writes the intake into the encrypted
        // transcript, for the counsellor to read (crypto.md, "Message plaintext").
        const record = { type: "intake", answers: this._intakeLog };
        this._intakeLog = [];
        await this._queue({ kind: "intake", text: null }, utf8(JSON.stringify(record)));
      }
    }
    this._changed();
  }

  // -- messages --------------------------------------------------------------------------------
  /** Encrypt, sign and send a text; resolves with {seq} once the server stored it. */
  async sendText(text) {
    if (typeof text !== "string" || text.length === 0) throw new ChatError("invalid_payload", "empty message");
    return this._queue({ kind: "text", text }, utf8(JSON.stringify({ type: "text", text })));
  }

  /**
   * A discreet signal inside the encrypted channel ("cannot_talk": "I can't talk
   * freely"); the counsellor's console shows it as a banner, the server cannot tell it
   * from a message. Plaintext {"type": "signal", "signal": name} (not yet in
   * docs/crypto.md: see the report of W1).
   */
  async sendSignal(signal) {
    if (!SIGNALS.includes(signal)) throw new ChatError("invalid_payload", `unknown signal ${signal}`);
    return this._queue({ kind: "signal", text: null, signal }, utf8(JSON.stringify({ type: "signal", signal })));
  }

  async _queue(entry, plaintext) {
    this._requireKeys();
    // The slot is taken now, and sealing is chained: messages written in a row get
    // their counters, and are sent, in the order they were written.
    const item = { ...entry, id: randomId(), body: null, seq: null, sentAt: null, status: "sealing" };
    item.done = new Promise((resolve, reject) => { item.resolve = resolve; item.reject = reject; });
    this._local.push(item);
    this._changed();
    const sealed = this._sealChain.then(async () => {
      await this._ensureCurrentEpoch(); // never in an epoch whose consent lapsed
      this._requireKeys();
      item.body = await this._keyring.sealPlaintext(plaintext);
      item.status = "sending";
    });
    this._sealChain = sealed.catch(() => {});
    try {
      await sealed;
    } catch (e) {
      item.status = "failed";
      this._changed();
      throw e;
    }
    this._flush();
    return item.done;
  }

  _requireKeys() {
    if (!this._team || !this._keyring.sealer) {
      if (this._teamError) throw this._teamError;
      throw new ChatError("no_keys", "no team key verified against the pinned fingerprint");
    }
  }

  /** Send what waits, one at a time and in order; stops while disconnected or unbound. */
  _flush() {
    this._sendChain = this._sendChain.then(async () => {
      for (;;) {
        const item = this._local.find((m) => m.status === "sending" || m.status === "sealing");
        if (!item || item.status === "sealing" || !this._socket?.connected || !this._bound) return;
        let r;
        try {
          r = await this._call("send", { body: b64urlEncode(item.body), client_msg_id: item.id });
        } catch (e) {
          if (e.code === "no_ack" || e.code === "no_conversation") return; // resent after `resume`, same id
          item.status = "failed";
          item.reject(e);
          this._error(e);
          continue;
        }
        item.status = "sent";
        item.seq = r.seq;
        item.sentAt = r.sent_at;
        // No echo from the server: add our own envelope from the ack.
        this._takeEnvelope({ conversation_id: this._conversationId, seq: r.seq, sender_role: "youth", sent_at: r.sent_at, body: b64urlEncode(item.body) });
        item.resolve({ seq: r.seq });
        this._changed();
      }
    }).catch((e) => this._error(e));
    return this._sendChain;
  }

  async typing(on) {
    if (!this._bound || !this._socket?.connected) return;
    await this._call("typing", { typing: !!on });
  }

  _onEnvelope(env) {
    if (!env || env.conversation_id !== this._conversationId) return;
    this._takeEnvelope(env);
  }

  _takeEnvelope(env) {
    if (this._transcript.add(env)) this._fillGap().catch((e) => this._error(e));
    this._read();
  }

  /** Fetch what is missing, page by page (`more`), then read it. */
  _fillGap() {
    if (this._filling) return this._filling;
    this._filling = (async () => {
      try {
        for (let more = true; more && this._bound;) {
          const page = await this._call("history", { after_seq: this._transcript.lastSeq });
          for (const env of page.messages) this._transcript.add(env);
          more = page.more && page.messages.length > 0;
        }
      } finally { this._filling = null; }
      await this._read();
    })();
    return this._filling;
  }

  /** Decrypt every envelope not opened yet, in seq order (one reader per conversation). */
  _read() {
    this._readChain = this._readChain.then(() => this._readNow()).catch((e) => this._error(e));
    return this._readChain;
  }

  async _readNow() {
    if (!this._keyring.signing || !this._conversationId) return;
    // A re-read (new reader) fills a fresh list, shown only once it is complete.
    let opened = this._opened;
    if (!this._reader) { await this._refreshReader(); opened = []; }
    let refreshed = false;
    const envs = this._transcript.envelopes;
    while (opened.length < envs.length) {
      const env = envs[opened.length];
      try {
        opened.push(await this._openOne(env));
      } catch (e) {
        if (!(e instanceof CryptoError)) throw e;
        if ((e.code === "unknown_sender" || e.code === "wrong_epoch") && !refreshed) {
          refreshed = true; // a new participant or epoch: fetch the keys once and read again
          await this._refreshReader();
          opened = [];
          continue;
        }
        opened.push(refusedEntry(env, e.code === "unknown_sender" || e.code === "wrong_epoch" ? "unknown_sender_or_epoch" : e.code));
      }
    }
    this._opened = opened;
    this._local = this._local.filter((m) => m.seq === null || m.seq > (this._opened.at(-1)?.seq ?? 0));
    let news = false;
    while (this._announced < this._opened.length) {
      this._emit("message", { ...this._opened[this._announced++] });
      news = true;
    }
    if (news) this._changed();
  }

  async _refreshReader() {
    const keys = await this._call("conversation_keys");
    this._reader = await this._keyring.reader(this._conversationId, keys);
  }

  async _openOne(env) {
    const { message } = await this._reader.open(b64urlDecode(env.body));
    const base = { seq: env.seq, role: env.sender_role, sentAt: env.sent_at, status: "sent" };
    if (message.role !== env.sender_role) return refusedEntry(env, "role_mismatch");
    const sender = this._reader.sender(message.senderFingerprint);
    const refusal = staffRefusalAt(sender, Math.floor(env.sent_at / 1000));
    // (the sender's revocation time comes from the list the reader was built with;
    // a newer list rebuilds the reader: _checkRevocations)
    if (refusal) return refusedEntry(env, refusal);
    const mine = message.senderFingerprint === hexEncode(await this._keyring.signing.public.digest());
    const data = readPlaintext(message.plaintext);
    const entry = { ...base, mine, kind: data.type, text: null, error: null };
    if (data.type === "text" && typeof data.text === "string") entry.text = data.text;
    else if (data.type === "signal") entry.signal = String(data.signal);
    else if (data.type === "referral") entry.referral = readReferral(data); // malformed: bad_encoding, shown unreadable
    else if (data.type !== "intake") entry.text = `[${data.type}]`;
    return entry;
  }

  // -- ending ----------------------------------------------------------------------------------
  /** Leave; with deleteNow the conversation is purged at the next run (the quick exit). */
  async end({ deleteNow = false } = {}) {
    const r = await this._call("end", deleteNow ? { delete: true } : {});
    this._setState(r.state);
    this._clearLapse();
    this._changed();
    return r.state;
  }

  /** Wipe keys and plaintext, disconnect. The chat cannot be used again. */
  close() {
    this._clearLapse();
    if (this._revocationTimer) clearInterval(this._revocationTimer);
    this._keyring.wipe();
    this._codeKeys?.wipe();
    for (const m of this._local) { m.body?.fill(0); m.reject?.(new ChatError("closed", "the chat was closed")); }
    const socket = this._socket;
    this._reset();
    this._closed = true;
    this._state = "closed";
    socket?.removeAllListeners();
    socket?.disconnect();
    this._changed();
  }

  // -- return codes --------------------------------------------------------------------------------
  /** Make a code, register it, wrap the keys under it; returns the words (show them once). */
  async requestReturnCode() {
    this._requireKeys();
    for (let attempt = 0; ; attempt++) {
      const { newCode, deriveCodeKeys } = await returnCodes();
      const code = newCode(); // made here: the server sees only the look-up words
      const keys = await deriveCodeKeys(code);
      try {
        await this._call("return_code", { lookup: keys.lookup, verifier: b64urlEncode(keys.verifier) });
      } catch (e) {
        keys.wipe();
        if (e.code === "conflict" && attempt < 3) continue; // another conversation has these words
        throw e;
      }
      this._codeKeys?.wipe();
      this._codeKeys = keys;
      await this._uploadCodeWrap();
      return code;
    }
  }

  /**
   * Make the return code useless. The protocol has no event to delete a code, so this
   * registers a fresh code whose words are never shown and are wiped at once
   * (registering replaces the earlier code: its look-up stops working) and overwrites
   * the stored blob with random bytes. Nobody holds the new words, so nothing can be
   * reopened with a code any more; requestReturnCode() makes a new one.
   */
  async destroyReturnCode() {
    for (let attempt = 0; ; attempt++) {
      const { newCode, deriveCodeKeys } = await returnCodes();
      const keys = await deriveCodeKeys(newCode());
      try {
        await this._call("return_code", { lookup: keys.lookup, verifier: b64urlEncode(keys.verifier) });
        break;
      } catch (e) {
        if (e.code !== "conflict" || attempt >= 3) throw e;
      } finally {
        keys.wipe();
      }
    }
    this._codeKeys?.wipe();
    this._codeKeys = null; // no more code wraps from here on
    await this._call("code_wrap", { blob: b64urlEncode(globalThis.crypto.getRandomValues(new Uint8Array(64))) });
    this._changed();
  }

  async _uploadCodeWrap() {
    const keys = this._codeKeys, cid = this._conversationId, ring = this._keyring;
    if (!keys || !cid || !ring.epochKeys.size) return;
    // The police state travels with the keys, so a device that comes back knows
    // whether the police may still read the restored epoch.
    const { wrapForCode } = await returnCodes();
    const blob = await wrapForCode(keys, cid, { signingSeed: ring.signing.seed, epoch: ring.epoch, epochKeys: ring.epochKeys, police: this._policeState });
    await this._call("code_wrap", { blob: b64urlEncode(blob) });
  }

  /** Come back on a fresh device: prove the code, unwrap the keys, read on. */
  async resumeWithCode(code) {
    if (this._conversationId) throw new ChatError("already_open", "this chat has a conversation");
    const { deriveCodeKeys, unwrapWithCode } = await returnCodes();
    const keys = await deriveCodeKeys(code.trim().toLowerCase()); // invalid_return_code stops here
    await this.connect();
    const r = await this._call("resume_code", { lookup: keys.lookup, proof: b64urlEncode(keys.proof) });
    if (!r.code_wrap) throw new ChatError("no_code_wrap", "the server holds no keys for this code");
    const contents = await unwrapWithCode(b64urlDecode(r.code_wrap), keys, r.conversation_id);
    this._resumeToken = r.resume_token;
    this._codeKeys = keys;
    return this._restore(r, contents);
  }

  /**
   * What this tab needs to come back after a reload: the resume token, the keys (the
   * same contents as a code wrap) and, when a return code was made here, that code's
   * derived key, so later epochs still reach its wrap. One string, meant for
   * `window.name` of the chat's own top-level page (memory of this tab, gone with it);
   * null when there is nothing to come back to.
   */
  tabState() {
    const ring = this._keyring;
    if (this._closed || !this._conversationId || !this._resumeToken || !ring.signing || !ring.epochKeys.size) return null;
    const keys = fromUtf8(codeWrapPayload({ signingSeed: ring.signing.seed, epoch: ring.epoch, epochKeys: ring.epochKeys, police: this._policeState }));
    const code = this._codeKeys ? { lookup: this._codeKeys.lookup, master: b64urlEncode(this._codeKeys.master) } : null;
    return TAB_STATE + JSON.stringify({ token: this._resumeToken, keys, code });
  }

  /** Come back after a reload of this tab, from what tabState() returned before it. */
  async resumeFromTab(saved) {
    if (this._conversationId) throw new ChatError("already_open", "this chat has a conversation");
    const { token, contents, code } = parseTabState(saved); // bad_tab_state stops here
    await this.connect();
    const r = await this._call("resume", { resume_token: token, last_seq: 0 });
    this._resumeToken = token;
    if (code) {
      const { codeKeysFromMaster } = await returnCodes();
      this._codeKeys = await codeKeysFromMaster(code.lookup, b64urlDecode(code.master));
    }
    return this._restore(r, contents);
  }

  /** Bound again (by a code or a reload): read the whole transcript, then the keys. */
  async _restore(r, contents) {
    const cid = r.conversation_id;
    this._conversationId = cid;
    this._setBound(true);
    this._setState(r.state);
    this._position = r.position ?? 0;
    this._queueLength = r.queue_length ?? 0;
    this._prompt = r.prompt ?? null;
    for (const env of r.messages) this._transcript.add(env);
    while (true) { // the whole transcript first: the counter continues from it
      const page = await this._call("history", { after_seq: this._transcript.lastSeq });
      for (const env of page.messages) this._transcript.add(env);
      if (!page.more || !page.messages.length) break;
    }
    const ring = this._keyring;
    await ring.restore(cid, contents.signingSeed, contents.epochKeys, contents.epoch, 0);
    this._team = await ring.trustedTeamKey(await this._call("keys"), now());
    await this._read();
    if (!this._reader) throw new ChatError("no_keys", "could not read the transcript back");
    const digest = hexEncode(await ring.signing.public.digest());
    await ring.restore(cid, contents.signingSeed, contents.epochKeys, contents.epoch, this._reader.nextCounter(digest, contents.epoch));
    contents.signingSeed.fill(0);
    await this._afterRestore(contents.police);
    this._armRevocationCheck();
    this._changed();
    this._flush();
    return r;
  }

  /**
   * Keep the restored epoch only if it is the latest one this conversation's key signed,
   * no envelope names a later one, and it is team-only or rests on a live consent that
   * the code wrap itself names; otherwise start a team-only epoch (youth.py _after_restore).
   */
  async _afterRestore(police) {
    const ring = this._keyring, cid = this._conversationId;
    const keys = await this._call("conversation_keys");
    const statements = new Map();
    for (const data of keys.statements ?? []) {
      try {
        const st = await verifyEpochStatement(epochStatementFromWire(cid, data), ring.signing.public, { conversationId: cid, epoch: data.epoch });
        statements.set(st.epoch, st);
      } catch (e) {
        if (!(e instanceof CryptoError)) throw e; // not signed by this conversation's key: not ours
      }
    }
    const latest = Math.max(0, ...statements.keys());
    const seen = this._reader?.highestEpochSeen ?? 0;
    const current = statements.get(ring.epoch) ?? null;
    const t = now();
    let keep = current !== null && ring.epoch === latest && seen <= ring.epoch
      && (current.consent === null || (police !== null && current.consent.expiresAt > t
        && current.consent.policeFingerprint === police.fingerprint && current.consent.expiresAt === police.expiresAt));
    if (keep && current.consent) {
      this._police = await this._verifiedPolice(await this._call("keys"), current.consent.policeFingerprint);
      keep = this._police !== null;
    }
    ring.statement = current;
    if (keep && current.consent) {
      this._consent = current.consent;
      this._policeState = police;
      this._armLapse(current.consent.expiresAt);
    }
    if (!keep) {
      ring.epoch = Math.max(ring.epoch, latest, seen, keys.epoch ?? 0);
      await this._withEpochLock(() => this._newEpoch(false));
    }
  }

  async _verifiedPolice(directory, fingerprint) {
    if (!directory?.police || typeof directory.police !== "object") return null;
    try {
      const key = await this._keyring.trustedPoliceKey(directory.police, directory, now());
      return key.fingerprint === fingerprint ? key : null;
    } catch (e) {
      if (e instanceof CryptoError) return null;
      throw e;
    }
  }

  // -- police handover ------------------------------------------------------------------------
  async _onOffer(data) {
    if (!data || data.conversation_id !== this._conversationId) return;
    // Verify the police key before the question is even shown.
    const police = await verifyKeyStatement(data.police, { pinnedFingerprint: this._keyring.pinnedFingerprint, kind: "police-key", at: now() });
    this._offer = {
      offerId: data.offer_id, text: data.text, police: { unit: police.subject, fingerprint: police.publicKey.fingerprint },
      expiresAt: now() + this._consentSeconds, // when a yes given now would end
      // What the police would read: from this seq on, or (shareHistory) from the start.
      seesFromSeq: { noHistory: this._transcript.lastSeq + 1, shareHistory: 1 },
      statement: data.police,
    };
    this._changed();
  }

  /** No, or yes: a signed consent and a new epoch the police can read (and with
   *  shareHistory the earlier epoch keys wrapped for them too). */
  async answerHandover({ accept, shareHistory = false, validSeconds = this._consentSeconds } = {}) {
    const offer = this._offer;
    if (!offer || !this._conversationId) throw new ChatError("no_offer", "there is no handover offer to answer");
    if (!accept) {
      const r = await this._call("handover_answer", { offer_id: offer.offerId, accept: false });
      this._offer = null;
      this._changed();
      return r;
    }
    const ring = this._keyring, cid = this._conversationId;
    const directory = await this._call("keys");
    // A revoked police key (a lost key file) is never given consent or keys.
    const police = await ring.trustedPoliceKey(offer.statement, directory, now());
    const consent = await signConsent({ conversationId: cid, policeFingerprint: police.fingerprint,
      shareHistory: !!shareHistory, expiresAt: now() + Math.min(validSeconds, 86_400 - 60) }, ring.signing);
    const r = await this._call("handover_answer", { offer_id: offer.offerId, accept: true, consent: consentToWire(consent) });
    this._offer = null;
    this._police = police;
    this._consent = consent;
    this._policeState = { fingerprint: police.fingerprint, expiresAt: consent.expiresAt, shareHistory: !!shareHistory };
    const earlier = new Map(ring.epochKeys);
    await this._withEpochLock(() => this._newEpoch(true));
    if (shareHistory) {
      const wraps = [];
      for (const [epoch, key] of [...earlier].sort((a, b) => a[0] - b[0])) {
        wraps.push({ epoch, recipient: police.fingerprint, wrap: b64urlEncode(await wrapConversationKey(key, police, { conversationId: cid, epoch })) });
      }
      for (let i = 0; i < wraps.length; i += 200) await this._call("share_history", { wraps: wraps.slice(i, i + 200) });
    }
    this._changed();
    return r;
  }

  /** Take the yes back: the officer is out at once, and a new epoch shuts them out. */
  async withdrawHandover() {
    const r = await this._call("handover_withdraw");
    this._handover = r.handover;
    await this._rekeyTeamOnly();
    this._changed();
    return r;
  }

  _onHandover(data) {
    if (!data || data.conversation_id !== this._conversationId) return;
    this._handover = data.handover;
    if (POLICE_GONE.has(data.handover)) {
      this._offer = null;
      if (this.readers.includes("police")) this._rekeyTeamOnly();
    }
    this._changed();
  }

  async _newEpoch(withPolice) {
    const ring = this._keyring, cid = this._conversationId;
    if (!this._team || !cid) throw new ChatError("no_keys", "no verified team key");
    await this._currentTeam();
    let consent = withPolice ? this._consent : null;
    if (!consent || consent.expiresAt <= now()) {
      consent = null; // team only from here: the police key gets nothing of this epoch
      this._consent = null;
      this._policeState = null;
    }
    const police = consent ? this._police : null;
    const payload = await ring.newEpoch(cid, this._team, police, consent);
    await this._call("epoch", payload);
    this._reader?.addEpochKey(ring.epoch, ring.epochKeys.get(ring.epoch));
    this._clearLapse();
    if (consent) this._armLapse(consent.expiresAt);
    await this._uploadCodeWrap(); // the code must open the new epoch too
    this._changed();
  }

  _withEpochLock(fn) {
    const run = this._epochChain.then(fn);
    this._epochChain = run.catch(() => {});
    return run;
  }

  /** A team-only epoch if the current one is readable by the police (first asker wins). */
  _rekeyTeamOnly() {
    return this._withEpochLock(async () => {
      if (!this.readers.includes("police")) return;
      await this._newEpoch(false);
    }).catch((e) => this._error(e, "rekey_failed"));
  }

  async _ensureCurrentEpoch() {
    const st = this._keyring.statement;
    try {
      if (st) checkSendable(st, now());
    } catch {
      await this._rekeyTeamOnly();
    }
  }

  _armLapse(expiresAt) {
    this._clearLapse();
    const ms = Math.max(0, expiresAt * 1000 - Date.now());
    this._lapse = setTimeout(() => { this._lapse = null; this._rekeyTeamOnly(); }, Math.min(ms, 2 ** 31 - 1));
  }

  _clearLapse() {
    if (this._lapse) clearTimeout(this._lapse);
    this._lapse = null;
  }

  // -- state and events -----------------------------------------------------------------------
  _onState(d) {
    if (!d || d.conversation_id !== this._conversationId) return;
    if (d.state === "purged") {
      // Nothing of it is left on the server: forget the token and the code.
      this._resumeToken = null;
      this._codeKeys?.wipe();
      this._codeKeys = null;
      this._setState("closed");
      this._emit("error", { code: "purged", message: "this conversation was deleted" });
    } else {
      this._setState(d.state);
    }
    if (this._state === "active") this._position = 0;
    if (this._state === "ended" || this._state === "closed") this._clearLapse();
    this._changed();
  }

  _setState(state) { if (STATES.has(state)) this._state = state; }

  _emit(type, detail) { this.dispatchEvent(new CustomEventLike(type, detail)); }
  _changed() { this._emit("change", {}); }
  _error(e, code) {
    this._emit("error", { code: code ?? e?.code ?? "error", message: String(e?.message ?? e) });
  }
}

/** Whether a string looks like what tabState() returns (checked in full on resume). */
export const isTabState = (saved) => typeof saved === "string" && saved.startsWith(TAB_STATE);

function parseTabState(saved) {
  const bad = () => { throw new ChatError("bad_tab_state", "nothing to come back to in this tab"); };
  if (typeof saved !== "string" || !saved.startsWith(TAB_STATE)) bad();
  let data;
  try { data = strictJsonParse(saved.slice(TAB_STATE.length)); } catch { bad(); }
  if (!data || typeof data.token !== "string" || !TAB_TOKEN.test(data.token) || typeof data.keys !== "string") bad();
  const code = data.code ?? null;
  if (code !== null && (typeof code.lookup !== "string" || typeof code.master !== "string")) bad();
  try {
    return { token: data.token, contents: parseCodeWrapPayload(utf8(data.keys)), code };
  } catch { return bad(); }
}

function refusedEntry(env, code) {
  return { seq: env.seq, role: env.sender_role, sentAt: env.sent_at, mine: false,
           kind: null, text: null, status: "sent", error: code };
}
