"""A stand-in for the Docker Engine API on a unix socket (stdlib only), for the Docker
provider's integration test: it serves GET /containers/json from a list the test sets and holds
every GET /events open as a chunked stream the test writes events into. With `swarm` set (a
manager) it serves GET /services and GET /tasks from the lists the test sets; without, it
answers 503 as a daemon that is no Swarm manager does. It can go away and come
back (a dockerd restart, as far as hamba can tell), which the real engine cannot do under a
shared CI machine.

    with FakeDocker(path) as d:
        d.containers = [container("a1", "rng-1", {"hamba.frontend": "127.0.0.1:8001"},
                                  "127.0.0.1", [9001])]
        d.event("start", "a1")          # every open stream gets it
        d.swarm = True
        d.services = [service("s1", "rng", {"hamba.frontend": "8002"}, [80], replicas=2)]
        d.tasks = [task("t1", "s1", 1, "127.0.0.1"), task("t2", "s1", 2, "127.0.0.2")]
        d.event("update", "s1", "rng", type="service")
        d.stop(); ...; d.start()        # streams cut, socket gone; then back
"""

import json
import os
import socket
import threading


def container(cid, name, labels, address, ports, status="Up 1 second", networks=None):
    """One entry of /containers/json as API 1.41 writes it."""
    return {
        "Id": cid, "Names": [f"/{name}"], "Image": "test", "State": "running",
        "Status": status, "Labels": labels,
        "Ports": [{"PrivatePort": p, "Type": "tcp"} for p in ports],
        "NetworkSettings": {"Networks": networks or {"bridge": {"IPAddress": address}}},
    }


def service(sid, name, labels, ports, replicas=1, container_labels=None):
    """One entry of /services as API 1.41 writes it: `labels` are the service's (a stack file's
    deploy: labels:), `container_labels` its containers' (labels:)."""
    return {
        "ID": sid, "Version": {"Index": 1},
        "Spec": {"Name": name, "Labels": labels,
                 "TaskTemplate": {"ContainerSpec": {"Image": "test",
                                                    "Labels": container_labels or {}}},
                 "Mode": {"Replicated": {"Replicas": replicas}}},
        "Endpoint": {"Spec": {"Mode": "dnsrr",
                              "Ports": [{"Protocol": "tcp", "TargetPort": p, "PublishedPort": p,
                                         "PublishMode": "host"} for p in ports]}},
    }


def task(tid, sid, slot, address, state="running", desired="running", container_id=""):
    """One entry of /tasks: on an overlay network `net` (and the ingress, which is not where a
    task serves)."""
    return {
        "ID": tid, "ServiceID": sid, "Slot": slot, "NodeID": "node1", "DesiredState": desired,
        "Status": {"State": state, "ContainerStatus": {"ContainerID": container_id}},
        "NetworksAttachments": [
            {"Network": {"ID": "ing", "Spec": {"Name": "ingress", "Ingress": True}},
             "Addresses": ["10.0.0.9/24"]},
            {"Network": {"ID": "n1", "Spec": {"Name": "net"}}, "Addresses": [f"{address}/24"]},
        ],
    }


class FakeDocker:
    def __init__(self, path):
        self.path = path
        self.containers = []
        self.lists = 0  # GET /containers/json answered
        self.swarm = False
        self.services = []
        self.tasks = []
        self.task_lists = 0  # GET /tasks answered
        self._lock = threading.Lock()
        self._streams = []
        self._listener = None

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(self.path)
        self._listener.listen(16)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self):
        """The socket goes and every stream is cut."""
        listener, self._listener = self._listener, None
        if listener:
            listener.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
        with self._lock:
            streams, self._streams = self._streams, []
        for s in streams:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    @property
    def streams(self):
        with self._lock:
            return len(self._streams)

    def event(self, action, cid, name="", type="container", **attributes):
        attributes["name"] = name
        line = json.dumps({"Type": type, "Action": action, "status": action, "id": cid,
                           "Actor": {"ID": cid, "Attributes": attributes}}) + "\n"
        chunk = f"{len(line.encode()):x}\r\n{line}\r\n".encode()
        with self._lock:
            streams = list(self._streams)
        for s in streams:
            try:
                s.sendall(chunk)
            except OSError:
                pass

    def _accept(self, listener):
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            more = conn.recv(4096)
            if not more:
                conn.close()
                return
            data += more
        target = data.split(b" ")[1].decode()
        if target.startswith("/containers/json"):
            with self._lock:
                body = json.dumps(self.containers).encode()
                self.lists += 1
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            conn.close()
        elif target.startswith("/services") or target.startswith("/tasks"):
            with self._lock:
                if not self.swarm:
                    status, body = b"503 Service Unavailable", json.dumps(
                        {"message": "This node is not a swarm manager."}).encode()
                elif target.startswith("/services"):
                    status, body = b"200 OK", json.dumps(self.services).encode()
                else:
                    status, body = b"200 OK", json.dumps(
                        [t for t in self.tasks if t["DesiredState"] == "running"]).encode()
                    self.task_lists += 1
            conn.sendall(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (status, len(body), body))
            conn.close()
        elif target.startswith("/events"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            with self._lock:
                self._streams.append(conn)
        else:
            body = b'{"message":"page not found"}'
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))
            conn.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
