#!/usr/bin/env python3
"""The emulator as a server: start-up, keep-alive, TLS, threads, shutdown."""

import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tap  # noqa: E402
from emutest import (EMULATOR, EmulatorProcess, EmulatorTestCase,  # noqa
                     event, make_certificate)


class StartStop(unittest.TestCase):

    def test_listening_line_port_file_and_sigterm(self):
        """prints 'listening on', writes --port-file, exits 0 on SIGTERM"""
        with tempfile.TemporaryDirectory() as tmp:
            port_file = os.path.join(tmp, "port")
            emu = EmulatorProcess("--port-file", port_file)
            try:
                with open(port_file) as handle:
                    self.assertEqual(int(handle.read()), emu.port)
                self.assertEqual(emu.get("/_emulator/health").json()["ok"],
                                 True)
            finally:
                self.assertEqual(emu.stop(), 0)

    def test_sigint_exits_cleanly(self):
        emu = EmulatorProcess()
        emu.proc.send_signal(signal.SIGINT)
        self.assertEqual(emu.proc.wait(20), 0)
        emu.stop()

    def test_exits_while_a_request_hangs(self):
        """a hanging fault does not keep the process from exiting"""
        emu = EmulatorProcess("--fault", '{"hang": true}')
        sock = socket.create_connection(("127.0.0.1", emu.port))
        try:
            sock.sendall(b"POST /track HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 2\r\n\r\n{}")
            emu.wait("requests", 1)
            self.assertEqual(emu.stop(), 0)
        finally:
            sock.close()

    def test_bad_arguments(self):
        result = subprocess.run(
            [sys.executable, EMULATOR, "serve", "--listen", "nonsense"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn("HOST:PORT", result.stderr)


class Http(EmulatorTestCase):

    def test_keep_alive_and_content_length(self):
        """several requests on one connection, each with Content-Length"""
        conn = self.emu.connection()
        try:
            for number in range(3):
                answer = self.emu.import_([event("E%d" % number, "u1")],
                                          conn=conn)
                self.assertEqual(answer.status, 200)
                self.assertEqual(int(answer.headers["Content-Length"]),
                                 len(answer.body))
            for path in ("/_emulator/stats", "/nowhere", "/track"):
                answer = self.emu.call("GET", path, conn=conn)
                self.assertEqual(int(answer.headers["Content-Length"]),
                                 len(answer.body))
        finally:
            conn.close()
        self.assertEqual(len(self.emu.items("events")), 3)

    def test_unknown_path_is_404(self):
        answer = self.emu.get("/decide")
        self.assertEqual(answer.status, 404)
        self.assertEqual(self.emu.get("/_emulator/nothing").status, 404)

    def test_trailing_slash(self):
        """/track/ (what browser SDKs use) is /track"""
        answer = self.emu.track([event("E", "u1")], params={})
        self.assertEqual(answer.json(), {"status": 1, "error": None})
        answer = self.emu.call("POST", "/track/?verbose=1",
                               body='data={"event":"F","properties":'
                                    '{"token":"t","distinct_id":"u1"}}')
        self.assertEqual(answer.json()["status"], 1)

    def test_chunked_request_body(self):
        body = b'[{"event":"E","properties":{"token":"t","distinct_id":' \
               b'"u1","time":%d,"$insert_id":"abc"}}]' % (
                   __import__("time").time() * 1000)
        sock = socket.create_connection(("127.0.0.1", self.emu.port))
        try:
            head = (b"POST /import?strict=1 HTTP/1.1\r\nHost: x\r\n"
                    b"Authorization: Basic dDo=\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n")
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                              for part in (body[:10], body[10:]))
            sock.sendall(head + chunks + b"0\r\n\r\n")
            answer = sock.recv(65536)
        finally:
            sock.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer)
        self.assertEqual(len(self.emu.wait("events", 1)), 1)

    def test_expect_100_continue(self):
        """libcurl's Expect: 100-continue is honoured"""
        sock = socket.create_connection(("127.0.0.1", self.emu.port))
        sock.settimeout(30)
        try:
            body = b'[{"event":"E","properties":{"distinct_id":"u1",' \
                   b'"time":%d,"$insert_id":"abc"}}]' % (
                       __import__("time").time() * 1000)
            sock.sendall(b"POST /import?strict=1 HTTP/1.1\r\nHost: x\r\n"
                         b"Authorization: Basic dDo=\r\n"
                         b"Expect: 100-continue\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body))
            interim = sock.recv(1024)
            self.assertTrue(interim.startswith(b"HTTP/1.1 100"), interim)
            sock.sendall(body)
            answer = sock.recv(65536)
            self.assertIn(b" 200 ", answer.split(b"\r\n")[0])
        finally:
            sock.close()

    def test_threads_serve_while_one_hangs(self):
        self.emu.fault({"hang": True, "path": "/import"})
        sock = socket.create_connection(("127.0.0.1", self.emu.port))
        try:
            sock.sendall(b"POST /import HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 2\r\n\r\n[]")
            self.emu.wait("requests", 1, path="/import")
            answer = self.emu.track([event("E", "u1")])
            self.assertEqual(answer.json()["status"], 1)
        finally:
            sock.close()

    def test_request_log_never_reaches_stderr(self):
        """tokens travel in query strings: nothing is logged by default"""
        self.emu.track([event("E", "u1")], method="GET")
        self.emu.import_([event("E", "u1")])
        self.assertNotIn("test-token", self.emu.stderr_text())


class Tls(EmulatorTestCase):
    tls = True

    def test_https_with_verification(self):
        answer = self.emu.import_([event("E", "u1")])
        self.assertEqual(answer.status, 200)
        self.assertEqual(self.emu.items("events")[0]["event"], "E")

    def test_untrusted_client_is_refused_without_harm(self):
        context = ssl.create_default_context()   # system CAs only
        raw = socket.create_connection(("127.0.0.1", self.emu.port))
        with self.assertRaises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="localhost")
        raw.close()
        self.assertEqual(self.emu.get("/_emulator/health").status, 200)

    def test_plain_http_to_tls_port_does_not_block_it(self):
        sock = socket.create_connection(("127.0.0.1", self.emu.port))
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
        sock.close()
        self.assertEqual(self.emu.get("/_emulator/health").status, 200)


class TlsArguments(unittest.TestCase):

    def test_cert_without_key(self):
        with tempfile.TemporaryDirectory() as tmp:
            pair = make_certificate(tmp)
            if pair is None:
                self.skipTest("openssl is not installed")
            result = subprocess.run(
                [sys.executable, EMULATOR, "serve", "--listen",
                 "127.0.0.1:0", "--tls-cert", pair[0]],
                capture_output=True, text=True, timeout=60)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--tls-key", result.stderr)


if __name__ == "__main__":
    tap.main()
