/**
 * The REPL's command history: entries oldest first (as the file holds them), at most `size`, an
 * entry typed again moved to the newest place rather than kept twice, saved to a file of its own
 * (mode 0600: commands can hold values an admin would not show others) after each entry. Browsing
 * with Up and Down keeps the line that was being typed and gives it back below the newest entry.
 *
 * What it gives up: two REPLs of one user each save their own list, so the one that exits last
 * wins (as bash does without `histappend`); history is a convenience, never worth a failed command.
 * @module
 */

/** The list of past commands, and where browsing it stands. */
export class History {
  readonly #entries: string[];
  readonly #file?: string;
  readonly #size: number;
  /** Entry shown while browsing (`entries.length`: the line being typed). */
  #at: number;
  /** The line being typed when browsing began. */
  #draft = "";

  /** Loads `file` (one entry per line); a missing or unreadable file is an empty history. */
  constructor(file: string | undefined, size = 1000) {
    this.#file = file;
    this.#size = size;
    let entries: string[] = [];
    if (file) {
      try {
        entries = Deno.readTextFileSync(file).split("\n").filter((l) => l.trim());
      } catch { /* no history yet */ }
    }
    this.#entries = entries.slice(-size);
    this.#at = this.#entries.length;
  }

  /** The entries, oldest first. */
  get entries(): readonly string[] {
    return this.#entries;
  }

  /** Adds a run command (blank ones are not kept) and saves; browsing starts again below it. */
  add(line: string): void {
    this.#at = this.#entries.length;
    if (!line.trim()) return;
    const old = this.#entries.indexOf(line);
    if (old >= 0) this.#entries.splice(old, 1);
    this.#entries.push(line);
    if (this.#entries.length > this.#size) this.#entries.splice(0, this.#entries.length - this.#size);
    this.#at = this.#entries.length;
    this.#save();
  }

  /** Browsing starts again below the newest entry (a new line is being read). */
  reset(): void {
    this.#at = this.#entries.length;
    this.#draft = "";
  }

  /** Up: the entry before the one shown (`current` is what the line holds now); undefined at the oldest. */
  previous(current: string): string | undefined {
    if (this.#at === 0) return undefined;
    if (this.#at === this.#entries.length) this.#draft = current;
    return this.#entries[--this.#at];
  }

  /** Down: the entry after the one shown, then the line that was being typed; undefined below it. */
  next(): string | undefined {
    if (this.#at >= this.#entries.length) return undefined;
    this.#at++;
    return this.#at === this.#entries.length ? this.#draft : this.#entries[this.#at];
  }

  /**
   * The newest entry holding `query` at or before index `from` (Ctrl-R searches back from the
   * newest): its index, or -1.
   */
  search(query: string, from = this.#entries.length - 1): number {
    if (!query) return -1;
    for (let i = Math.min(from, this.#entries.length - 1); i >= 0; i--) {
      if (this.#entries[i].includes(query)) return i;
    }
    return -1;
  }

  #save(): void {
    if (!this.#file) return;
    try {
      Deno.writeTextFileSync(this.#file, this.#entries.join("\n") + "\n", { mode: 0o600 });
    } catch { /* history is a convenience: never fail a command over it */ }
  }
}
