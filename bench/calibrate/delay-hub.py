"""Delay line between the testbed's IDC bridges, for kernels without sch_netem.

The calibration testbed (netns.ts) joins IDC bridges with links that delay every frame by the
scenario's cross-IDC latency. With sch_netem that is a `tc netem` qdisc; a kernel built without it
(`tc qdisc add ... netem` answers "Specified qdisc kind is unknown") gets this process instead.
It is Python because Node cannot open a TAP device (that needs the TUNSETIFF ioctl).

It opens one TAP device per IDC (in the namespace it runs in, the testbed's switch), prints
"ready", and then forwards every frame read from one TAP to all the others `--delay-ms` later,
in order: an Ethernet hub whose ports are each that far apart. The bridges learn which MACs sit
behind their TAP port, so a frame is delivered where its destination is and dropped elsewhere.
TAPs are opened with virtio-net headers and TSO/checksum offload, so TCP's 64 KB segments pass
whole (a few thousand frames a second at 1 Gbit/s, cheap for Python).

A frame waits in a bounded queue (drops beyond it, like a full switch buffer). A line "stats" on
stdin is answered by one JSON line: frames and bytes forwarded, frames dropped, and how late
frames left against their due time (a hub starved of CPU adds delay the scenario did not ask
for). The process exits when its stdin closes, so a testbed that dies for any reason takes its
hub with it, and the TAP devices vanish with the process.

    python3 delay-hub.py --delay-ms 20 tapidc0 tapidc1
"""
import argparse
import collections
import fcntl
import json
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN = 0x01, 0x02, 0x04, 0x08
# A GSO frame is at most 64 KiB plus the virtio-net header.
READ_BYTES = 65536 + 64
READS_PER_WAKEUP = 64


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
    fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
    return fd


def main():
    parser = argparse.ArgumentParser(description="delay every frame between TAP devices (a WAN hub)")
    parser.add_argument("--delay-ms", type=float, required=True, help="one-way delay added to every frame")
    parser.add_argument("--queue-frames", type=int, default=20000, help="frames held per port before drops")
    parser.add_argument("taps", nargs="+", help="TAP device names to create, one per IDC")
    args = parser.parse_args()
    if len(args.taps) < 2:
        parser.error("give at least two TAP names")
    delay_s = args.delay_ms / 1000.0
    taps = [open_tap(name) for name in args.taps]
    # Per destination port: (due time, frame), due times non-decreasing because the delay is fixed.
    queues = {fd: collections.deque() for fd in taps}
    stdin = sys.stdin.fileno()
    stats = {"frames": 0, "bytes": 0, "droppedFrames": 0, "lateMsTotal": 0.0, "lateMsMax": 0.0, "framesLateOver5Ms": 0}
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        for fd, queue in queues.items():
            while queue and queue[0][0] <= now:
                due_at, frame = queue.popleft()
                late_ms = (now - due_at) * 1000
                try:
                    os.write(fd, frame)
                except OSError:
                    stats["droppedFrames"] += 1
                    continue
                stats["frames"] += 1
                stats["bytes"] += len(frame)
                stats["lateMsTotal"] += late_ms
                stats["lateMsMax"] = max(stats["lateMsMax"], late_ms)
                stats["framesLateOver5Ms"] += late_ms > 5
        due = [queue[0][0] for queue in queues.values() if queue]
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        readable, _, _ = select.select(taps + [stdin], [], [], timeout)
        if stdin in readable:
            command = os.read(stdin, 4096)
            if not command:
                return
            if b"stats" in command:
                print(json.dumps(stats), flush=True)
        now = time.monotonic()
        for fd in readable:
            if fd == stdin:
                continue
            for _ in range(READS_PER_WAKEUP):
                try:
                    frame = os.read(fd, READ_BYTES)
                except BlockingIOError:
                    break
                for out in taps:
                    if out == fd:
                        continue
                    if len(queues[out]) >= args.queue_frames:
                        stats["droppedFrames"] += 1
                    else:
                        queues[out].append((now + delay_s, frame))


if __name__ == "__main__":
    main()
