// One conversation's envelopes in seq order, each exactly once (docs/protocol.md,
// section 5; helpline/client/connection.py Transcript): live events, acks and history
// pages may overlap or arrive out of order, so it drops what it has and holds what
// comes early until history fills the gap.
export class Transcript {
  constructor(startAfter = 0) {
    this.envelopes = [];
    this.startAfter = startAfter;
    this.pending = new Map();
  }
  get lastSeq() { return this.envelopes.length ? this.envelopes.at(-1).seq : this.startAfter; }
  /** Take an envelope; true when a gap remains that `history` must fill. */
  add(envelope) {
    const seq = envelope.seq;
    if (!Number.isInteger(seq)) return false;
    if (seq > this.lastSeq && !this.pending.has(seq)) this.pending.set(seq, envelope);
    while (this.pending.has(this.lastSeq + 1)) {
      const next = this.pending.get(this.lastSeq + 1);
      this.pending.delete(this.lastSeq + 1);
      this.envelopes.push(next);
    }
    for (const s of [...this.pending.keys()]) if (s <= this.lastSeq) this.pending.delete(s);
    return this.pending.size > 0;
  }
  clear() { this.envelopes = []; this.pending.clear(); }
}
