"""Every Redis key the helpline uses, declared in one place.

All keys share an injectable prefix (default `hl:`) so that tests and several
deployments can share one Redis. Ids are validated before they become part of a
key, so that no client string can reach into another key space.

    {p}conv:{id}            hash   conversation metadata (state, times, counsellor, ...)
    {p}conv:{id}:msgs       list   message envelopes; list index + 1 is the seq
    {p}conv:{id}:dedup      hash   "role:sender:client_msg_id" -> seq (a resend is stored once)
    {p}conv:{id}:e2e        hash   youth_key (Ed25519 public, raw), epoch (current number)
    {p}conv:{id}:wraps      hash   "{epoch}:{recipient fingerprint}" -> HPKE wrap of the epoch key
    {p}conv:{id}:who        set    staff who have held the conversation (their keys sign)
    {p}conv:{id}:nonces     set    police consent nonces already used (replay guard)
    {p}queue                zset   queued conversation ids, scored by queued_at (ms)
    {p}live                 zset   not-yet-closed conversation ids, by created_at
    {p}held:{username}      set    conversations a counsellor holds
    {p}staff                set    all usernames
    {p}staff:{username}     hash   role, password hash, disabled, created_at
    {p}session:{hash}       hash   username, role, expires_at (TTL = session lifetime)
    {p}sessions:{username}  set    that person's session hashes (for revocation)
    {p}loginfail:{username} string failed-login counter (TTL = lock window)
    {p}keys:signing         string the organisation's signing public key (raw 32 bytes)
    {p}keys:team            hash   period -> signed team key statement (JSON)
    {p}keys:team:current    string the period new conversations encrypt to
    {p}keys:police          string signed police unit key statement (JSON)
    {p}keys:revocations     string organisation-signed revocation list (JSON; keyadmin_store)
    {p}device:{username}    hash   encryption, signing (public, raw) of the current device
    {p}statements:{username} hash  signing key fingerprint -> signed staff statement (JSON);
                                   kept for earlier devices too, so old messages still verify
    {p}grants:{username}    hash   period or police unit -> wrapped private key
    {p}offline              zset   conversations left outside opening hours, by time
    {p}return:{hmac}        hash   conversation, verifier: a return code, under a keyed hash
                                   of its look-up words (returncode_store)
    {p}invite:{sha256}      hash   counsellor, expires_at, used: a one-time invite
    {p}codetry:{hmac}       string attempts at one return code in the window (TTL;
                                   returncode_store, like codetry-conn:{sha256 of sid})
    {p}purge                zset   conversation ids, scored by when they are purged (ms)
    {p}uncounted            set    closed conversations not yet counted in the statistics
    {p}stats:{week}         hash   "form|age|language|campaign|referral|police" -> count
    {p}keys:team:replaced   hash   period -> when a newer team key replaced it (ms)
    {p}keys:retired         set    team periods whose grants were shredded
    {p}lock:{job}:{slot}    string which process runs this slot of a job (TTL)
    {p}presence             zset   "{username} {process}/{sid}" per live staff socket, by
                                   when it lapses (ms; presence_store)
    {p}presence:count       hash   username -> live members in {p}presence
    {p}jobs                 list   the last job runs (job, slot, outcome), newest first
    {p}audit                list   hash-chained audit entries (JSON), append-only
    {p}audit:head           string "count:hash" of the last entry
    {p}edited:{what}        hash   version, data: the console's edit of the canned answers,
                                   the referral directory or the opening hours
                                   (what = canned, referrals, hours; directory_store)
    {p}control              pub/sub control messages between server processes
    {p}socketio             pub/sub python-socketio fan-out (fanout=redis only)
"""

from __future__ import annotations

from dataclasses import dataclass

from helpline.domain.ids import is_conversation_id, is_username

# What the console may edit (storage/directory_store.py).
EDITABLE = ("canned", "referrals", "hours")


class BadKey(ValueError):
    """An id that must never become part of a Redis key."""


@dataclass(frozen=True)
class Keys:
    prefix: str

    def conv(self, conversation_id: str) -> str:
        return f"{self.prefix}conv:{_cid(conversation_id)}"

    def msgs(self, conversation_id: str) -> str:
        return f"{self.prefix}conv:{_cid(conversation_id)}:msgs"

    def dedup(self, conversation_id: str) -> str:
        return f"{self.prefix}conv:{_cid(conversation_id)}:dedup"

    def e2e(self, conversation_id: str) -> str:
        return f"{self.prefix}conv:{_cid(conversation_id)}:e2e"

    def wraps(self, conversation_id: str) -> str:
        return f"{self.prefix}conv:{_cid(conversation_id)}:wraps"

    def participants(self, conversation_id: str) -> str:
        return f"{self.prefix}conv:{_cid(conversation_id)}:who"

    def nonces(self, conversation_id: str) -> str:
        return f"{self.prefix}conv:{_cid(conversation_id)}:nonces"

    @property
    def signing_key(self) -> str:
        return f"{self.prefix}keys:signing"

    @property
    def team_keys(self) -> str:
        return f"{self.prefix}keys:team"

    @property
    def current_team_key(self) -> str:
        return f"{self.prefix}keys:team:current"

    @property
    def police_key(self) -> str:
        return f"{self.prefix}keys:police"

    def device(self, username: str) -> str:
        return f"{self.prefix}device:{_user(username)}"

    def staff_statements(self, username: str) -> str:
        return f"{self.prefix}statements:{_user(username)}"

    def grants(self, username: str) -> str:
        return f"{self.prefix}grants:{_user(username)}"

    @property
    def queue(self) -> str:
        return f"{self.prefix}queue"

    @property
    def live(self) -> str:
        return f"{self.prefix}live"

    def held(self, username: str) -> str:
        return f"{self.prefix}held:{_user(username)}"

    @property
    def staff_index(self) -> str:
        return f"{self.prefix}staff"

    def staff(self, username: str) -> str:
        return f"{self.prefix}staff:{_user(username)}"

    def session(self, token_hash: str) -> str:
        if len(token_hash) != 64 or not all(c in "0123456789abcdef" for c in token_hash):
            raise BadKey("session hash")
        return f"{self.prefix}session:{token_hash}"

    def sessions(self, username: str) -> str:
        return f"{self.prefix}sessions:{_user(username)}"

    def login_failures(self, username: str) -> str:
        return f"{self.prefix}loginfail:{_user(username)}"

    @property
    def offline(self) -> str:
        return f"{self.prefix}offline"

    def return_code(self, lookup: str) -> str:
        if len(lookup) != 64 or not all(c in "0123456789abcdef" for c in lookup):
            raise BadKey("return code lookup")
        return f"{self.prefix}return:{lookup}"

    def invite(self, code_hash: str) -> str:
        if len(code_hash) != 64 or not all(c in "0123456789abcdef" for c in code_hash):
            raise BadKey("invite")
        return f"{self.prefix}invite:{code_hash}"

    @property
    def purge(self) -> str:
        return f"{self.prefix}purge"

    @property
    def uncounted(self) -> str:
        return f"{self.prefix}uncounted"

    def stats(self, week: str) -> str:
        if not (len(week) == 8 and week[4:6] == "-W" and week[:4].isdigit()
                and week[6:].isdigit()):
            raise BadKey("week")
        return f"{self.prefix}stats:{week}"

    @property
    def stats_pattern(self) -> str:
        return f"{self.prefix}stats:*"

    @property
    def team_replaced(self) -> str:
        return f"{self.prefix}keys:team:replaced"

    @property
    def retired_periods(self) -> str:
        return f"{self.prefix}keys:retired"

    def lock(self, job: str, slot: int) -> str:
        if not job.isidentifier():
            raise BadKey("job")
        return f"{self.prefix}lock:{job}:{slot}"

    @property
    def jobs(self) -> str:
        return f"{self.prefix}jobs"

    @property
    def presence(self) -> str:
        return f"{self.prefix}presence"

    @property
    def presence_count(self) -> str:
        return f"{self.prefix}presence:count"

    @property
    def audit(self) -> str:
        return f"{self.prefix}audit"

    @property
    def audit_head(self) -> str:
        return f"{self.prefix}audit:head"

    def edited(self, what: str) -> str:
        if what not in EDITABLE:
            raise BadKey("editable")
        return f"{self.prefix}edited:{what}"

    @property
    def control_channel(self) -> str:
        return f"{self.prefix}control"

    @property
    def socketio_channel(self) -> str:
        return f"{self.prefix}socketio"


def _cid(value: str) -> str:
    if not is_conversation_id(value):
        raise BadKey("conversation id")
    return value


def _user(value: str) -> str:
    if not is_username(value):
        raise BadKey("username")
    return value
