/**
 * The peers of one task waiting for work, oldest first. When capacity appears, the supernode
 * walks this list for a waiter that can use it and takes that one out of the middle; the
 * others keep their place, so a peer is not sent to the back of the line for a piece it did
 * not need. Links live in the entries themselves: pushing and removing allocate nothing and
 * cost O(1) however long the list.
 */
export interface WaiterLinks {
  waiting: boolean;
  prevWaiter: WaiterLinks | null;
  nextWaiter: WaiterLinks | null;
}

export class WaiterList<T extends WaiterLinks> {
  private head: T | null = null;
  private tail: T | null = null;
  private count = 0;

  get length(): number { return this.count; }
  first(): T | null { return this.head; }
  next(item: T): T | null { return item.nextWaiter as T | null; }

  /** Append at the back; no-op for an entry already waiting. */
  push(item: T): void {
    if (item.waiting) return;
    item.waiting = true;
    item.prevWaiter = this.tail;
    item.nextWaiter = null;
    if (this.tail) this.tail.nextWaiter = item; else this.head = item;
    this.tail = item;
    this.count++;
  }

  /** Take an entry out wherever it is; no-op for one not waiting. */
  remove(item: T): void {
    if (!item.waiting) return;
    if (item.prevWaiter) item.prevWaiter.nextWaiter = item.nextWaiter; else this.head = item.nextWaiter as T | null;
    if (item.nextWaiter) item.nextWaiter.prevWaiter = item.prevWaiter; else this.tail = item.prevWaiter as T | null;
    item.waiting = false;
    item.prevWaiter = null;
    item.nextWaiter = null;
    this.count--;
  }
}
