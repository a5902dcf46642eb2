"""kafkaproxy — a test-only Kafka protocol proxy that makes librdkafka's mock
cluster look as if partitions were added while clients run.

librdkafka 2.0.2's mock cluster cannot grow a topic: it has no
CreatePartitions and rd_kafka_mock_topic_create refuses an existing topic.
So the topic is created with all its partitions and this proxy, between the
clients and the mock brokers, hides the partitions >= K of chosen topics
until the test reveals them.

One listening port per mock broker. Every frame is forwarded unchanged,
except three responses:
  - ApiVersions: the advertised maximum versions of Metadata (API key 3)
    and FindCoordinator (10) are lowered in place to non-flexible versions
    this proxy decodes and encodes again (CAPS);
  - Metadata: broker host/port are replaced by the proxy's own ports (the
    clients keep talking through the proxy), and partitions >= K of a
    hidden topic are left out;
  - FindCoordinator: the coordinator's host/port likewise (a consumer with
    a group.id asks for it, and would otherwise connect to the mock broker
    directly and see every partition).
Stdlib only; threads; every socket closes when the proxy stops."""
import socket
import struct
import threading

API_METADATA = 3
API_FIND_COORDINATOR = 10
API_VERSIONS = 18
# highest versions this file decodes: Metadata v0-v8 and FindCoordinator
# v0-v2 are non-flexible
CAPS = {API_METADATA: 4, API_FIND_COORDINATOR: 2}


def _recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def _read_frame(s):
    size = struct.unpack(">i", _recv_exact(s, 4))[0]
    if size < 0 or size > 256 << 20:
        raise EOFError
    return _recv_exact(s, size)


class _Reader:
    def __init__(self, data, pos=0):
        self.d, self.p = data, pos

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)
        self.p += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self):  # nullable string, int16 length
        n = self.take(">h")
        if n < 0:
            return None
        v = self.d[self.p:self.p + n].decode()
        self.p += n
        return v

    def int_array(self):
        n = self.take(">i")
        return [self.take(">i") for _ in range(max(n, 0))]

    def uvarint(self):
        shift = v = 0
        while True:
            b = self.d[self.p]
            self.p += 1
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7


def _string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _int_array(a):
    return struct.pack(">i", len(a)) + b"".join(struct.pack(">i", x) for x in a)


def cap_api_versions(body, version, caps=CAPS):
    """ApiVersions response body (after the correlation id) with the
    maximum versions of the APIs in caps lowered, edited in place."""
    out = bytearray(body)
    r = _Reader(body)
    r.take(">h")  # error_code
    n = r.uvarint() - 1 if version >= 3 else r.take(">i")
    for _ in range(max(n, 0)):
        key = r.take(">h")
        r.take(">h")  # min
        at = r.p
        mx = r.take(">h")
        if key in caps and mx > caps[key]:
            struct.pack_into(">h", out, at, caps[key])
        if version >= 3:  # tagged fields of the entry
            for _ in range(r.uvarint()):
                r.uvarint()
                r.p += r.uvarint()
    return bytes(out)


def rewrite_metadata(body, v, addr_of, visible):
    """Metadata response body (v0-v8, after the correlation id) with the
    brokers' addresses replaced (addr_of((host, port)) -> (host, port)) and
    the partitions >= visible[topic] left out."""
    r = _Reader(body)
    out = b""
    if v >= 3:
        out += struct.pack(">i", r.take(">i"))  # throttle_time_ms
    brokers = []
    for _ in range(r.take(">i")):
        node, host, port = r.take(">i"), r.string(), r.take(">i")
        rack = r.string() if v >= 1 else None
        brokers.append((node, host, port, rack))
    out += struct.pack(">i", len(brokers))
    for node, host, port, rack in brokers:
        h, p = addr_of((host, port))
        out += struct.pack(">i", node) + _string(h) + struct.pack(">i", p)
        if v >= 1:
            out += _string(rack)
    if v >= 2:
        out += _string(r.string())  # cluster_id
    if v >= 1:
        out += struct.pack(">i", r.take(">i"))  # controller_id
    ntopics = r.take(">i")
    out += struct.pack(">i", ntopics)
    for _ in range(ntopics):
        err, name = r.take(">h"), r.string()
        out += struct.pack(">h", err) + _string(name)
        if v >= 1:
            out += struct.pack(">b", r.take(">b"))  # is_internal
        parts = []
        for _ in range(r.take(">i")):
            perr, idx, leader = r.take(">h"), r.take(">i"), r.take(">i")
            epoch = r.take(">i") if v >= 7 else None
            replicas, isr = r.int_array(), r.int_array()
            offline = r.int_array() if v >= 5 else None
            parts.append((perr, idx, leader, epoch, replicas, isr, offline))
        limit = visible.get(name)
        if limit is not None:
            parts = [p for p in parts if p[1] < limit]
        out += struct.pack(">i", len(parts))
        for perr, idx, leader, epoch, replicas, isr, offline in parts:
            out += struct.pack(">hii", perr, idx, leader)
            if v >= 7:
                out += struct.pack(">i", epoch)
            out += _int_array(replicas) + _int_array(isr)
            if v >= 5:
                out += _int_array(offline)
        if v >= 8:
            out += struct.pack(">i", r.take(">i"))  # topic authorized ops
    if v >= 8:
        out += struct.pack(">i", r.take(">i"))  # cluster authorized ops
    out += body[r.p:]
    return out


def rewrite_find_coordinator(body, v, addr_of):
    """FindCoordinator response body (v0-v2) with the coordinator's
    address replaced."""
    r = _Reader(body)
    out = b""
    if v >= 1:
        out += struct.pack(">i", r.take(">i"))  # throttle_time_ms
    out += struct.pack(">h", r.take(">h"))  # error_code
    if v >= 1:
        out += _string(r.string())  # error_message
    node, host, port = r.take(">i"), r.string(), r.take(">i")
    if host:
        host, port = addr_of((host, port))
    out += struct.pack(">i", node) + _string(host) + struct.pack(">i", port)
    return out + body[r.p:]


class KafkaProxy:
    """proxy = KafkaProxy("h:p,h:p", {"scim.events": 3}); clients use
    proxy.bootstrap; proxy.reveal("scim.events", 6) shows more."""

    def __init__(self, upstream_bootstrap, visible):
        self.lock = threading.Lock()
        self.visible = dict(visible)
        self.stopping = False
        self.socks = []
        self.local = {}  # upstream (host, port) -> local port
        self.metadata_seen = 0
        self.capped = 0
        self.uncapped = 0
        for hp in upstream_bootstrap.split(","):
            host, port = hp.rsplit(":", 1)
            self._listen((host, int(port)))
        self.bootstrap = ",".join("127.0.0.1:%d" % p for p in self.local.values())

    def reveal(self, topic, partitions):
        with self.lock:
            self.visible[topic] = partitions

    def _listen(self, up):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)
        self.local[up] = ls.getsockname()[1]
        self.socks.append(ls)
        threading.Thread(target=self._accept, args=(ls, up), daemon=True).start()

    def _addr_of(self, up):
        with self.lock:
            if up in self.local:
                return "127.0.0.1", self.local[up]
        # a broker the bootstrap list did not name: listen for it too
        with self.lock:
            if up not in self.local:
                self._listen(up)
            return "127.0.0.1", self.local[up]

    def _accept(self, ls, up):
        while not self.stopping:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(up, timeout=10)
                s.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.socks += [c, s]
            pending = {}
            threading.Thread(target=self._requests, args=(c, s, pending), daemon=True).start()
            threading.Thread(target=self._responses, args=(s, c, pending), daemon=True).start()

    def _requests(self, c, s, pending):
        try:
            while True:
                f = _read_frame(c)
                key, ver, corr = struct.unpack_from(">hhi", f, 0)
                with self.lock:
                    pending[corr] = (key, ver)
                s.sendall(struct.pack(">i", len(f)) + f)
        except (EOFError, OSError, struct.error):
            pass
        self._close(c, s)

    def _responses(self, s, c, pending):
        try:
            while True:
                f = _read_frame(s)
                corr = struct.unpack_from(">i", f, 0)[0]
                with self.lock:
                    key, ver = pending.pop(corr, (None, None))
                    visible = dict(self.visible)
                if key == API_VERSIONS:
                    f = f[:4] + cap_api_versions(f[4:], ver)
                    self.capped += 1
                elif key == API_METADATA and ver is not None and ver <= 8:
                    f = f[:4] + rewrite_metadata(f[4:], ver, self._addr_of, visible)
                    self.metadata_seen += 1
                elif key == API_FIND_COORDINATOR and ver is not None and ver <= 2:
                    f = f[:4] + rewrite_find_coordinator(f[4:], ver, self._addr_of)
                elif key in (API_METADATA, API_FIND_COORDINATOR):
                    self.uncapped += 1  # a flexible version got through
                c.sendall(struct.pack(">i", len(f)) + f)
        except (EOFError, OSError, struct.error, IndexError, UnicodeDecodeError):
            pass
        self._close(c, s)

    def _close(self, *socks):
        for x in socks:
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                x.close()
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        with self.lock:
            socks = list(self.socks)
        self._close(*socks)
