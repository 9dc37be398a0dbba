// Folds items submitted in the same event-loop turn into one call (one store statement per batch
// instead of per item); if a batch fails, each item is retried alone so one bad item fails alone.
export class Batcher<T> {
  private pending: Array<{ item: T; resolve: () => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;

  constructor(
    private readonly flushFn: (items: T[]) => Promise<void>,
    private readonly max = 256,
  ) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.pending.splice(0);
    for (let i = 0; i < all.length; i += this.max) {
      const chunk = all.slice(i, i + this.max);
      this.flushFn(chunk.map((c) => c.item)).then(
        () => {
          for (const c of chunk) c.resolve();
        },
        (err) => {
          if (chunk.length === 1) return chunk[0]!.reject(err);
          for (const c of chunk) this.flushFn([c.item]).then(c.resolve, c.reject);
        },
      );
    }
  }
}
