#!/usr/bin/env python3
"""A logging TCP proxy for the PostgreSQL wire protocol.

    pgtrace.py LISTEN_PORT UPSTREAM_PORT LOGFILE

Forwards every byte unchanged between clients and redsql, and appends to
LOGFILE what the clients sent (simple Query text, Parse text with its
statement name, Bind/Execute/Describe/Close) and every ErrorResponse and
CommandComplete redsql answered, one line per message (SQL as a JSON string),
tagged with a connection number; PGTRACE_VERBOSE=1 adds the other backend
messages (RowDescription with table OIDs and types, NoData, ...). This is how the harness reports exactly which
SQL of which client failed (redsql itself logs only the error).
"""
import asyncio
import json
import os
import struct
import sys
import time

LOG = None
VERBOSE = bool(os.environ.get("PGTRACE_VERBOSE"))  # also log RowDescription, NoData, ...
COUNTER = 0


def log(conn, direction, text):
    LOG.write(f"{time.strftime('%H:%M:%S')} c{conn} {direction} {text}\n")
    LOG.flush()


def cstr(buf, pos):
    end = buf.index(b"\0", pos)
    return buf[pos:end].decode("utf-8", "replace"), end + 1


def describe_frontend(typ, body):
    """One log line for a typed frontend message, or None to skip it."""
    if typ == b"Q":
        return "Query: " + json.dumps(cstr(body, 0)[0], ensure_ascii=False)
    if typ == b"P":
        name, pos = cstr(body, 0)
        sql, pos = cstr(body, pos)
        (nparams,) = struct.unpack_from("!h", body, pos)
        oids = struct.unpack_from(f"!{nparams}I", body, pos + 2)
        return f"Parse {name or '<unnamed>'} types={list(oids)}: {json.dumps(sql, ensure_ascii=False)}"
    if typ == b"B":
        portal, pos = cstr(body, 0)
        stmt, pos = cstr(body, pos)
        (nfmt,) = struct.unpack_from("!h", body, pos)
        fmts = struct.unpack_from(f"!{nfmt}h", body, pos + 2)
        pos += 2 + 2 * nfmt
        (nparams,) = struct.unpack_from("!h", body, pos)
        pos += 2
        values = []
        for _ in range(nparams):
            (n,) = struct.unpack_from("!i", body, pos)
            pos += 4
            if n < 0:
                values.append(None)
            else:
                raw = body[pos:pos + n]
                pos += n
                values.append(raw.decode("utf-8", "replace") if 0 not in raw else raw.hex())
        (nres,) = struct.unpack_from("!h", body, pos)
        rfmts = struct.unpack_from(f"!{nres}h", body, pos + 2)
        return (f"Bind portal={portal or '<unnamed>'} stmt={stmt or '<unnamed>'} "
                f"param_formats={list(fmts)} params={values} result_formats={list(rfmts)}")
    if typ == b"E":
        portal, pos = cstr(body, 0)
        (maxrows,) = struct.unpack_from("!i", body, pos)
        return f"Execute portal={portal or '<unnamed>'} max_rows={maxrows}"
    if typ == b"D":
        return f"Describe {body[:1].decode()} {cstr(body, 1)[0] or '<unnamed>'}"
    if typ == b"C":
        return f"Close {body[:1].decode()} {cstr(body, 1)[0] or '<unnamed>'}"
    if typ == b"X":
        return "Terminate"
    return None  # Sync, Flush, CopyData...: not interesting enough


def describe_backend(typ, body):
    if typ == b"E":
        fields = {}
        pos = 0
        while pos < len(body) and body[pos] != 0:
            code = chr(body[pos])
            value, pos = cstr(body, pos + 1)
            fields[code] = value
        return f"ERROR {fields.get('C', '?')}: {fields.get('M', '')}"
    if typ == b"C":
        return "CommandComplete " + cstr(body, 0)[0]
    if typ == b"s":
        return "PortalSuspended"
    if VERBOSE:
        if typ == b"T":
            (n,) = struct.unpack_from("!h", body, 0)
            pos, cols = 2, []
            for _ in range(n):
                name, pos = cstr(body, pos)
                table, col, oid, _, _, fmt = struct.unpack_from("!IhIhih", body, pos)
                pos += 18
                cols.append(f"{name}(table={table},col={col},type={oid},fmt={fmt})")
            return "RowDescription " + ", ".join(cols)
        if typ != b"D":
            return f"message {typ.decode()} ({len(body)} bytes)"
    return None


async def pump(reader, writer, conn, frontend, state):
    """Copy reader to writer, logging messages, until EOF."""
    buf = b""
    untyped = frontend  # the frontend opens with untyped startup packets
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
            if state.get("tls"):
                continue
            buf += data
            while True:
                if untyped:
                    if len(buf) < 4:
                        break
                    (n,) = struct.unpack_from("!i", buf, 0)
                    if len(buf) < n:
                        break
                    body, buf = buf[4:n], buf[n:]
                    (code,) = struct.unpack_from("!i", body, 0)
                    if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest
                        state["await_ssl_answer"] = True
                        continue
                    params = body[4:].split(b"\0")
                    kv = dict(zip(params[0::2], params[1::2]))
                    app = kv.get(b"application_name", b"").decode()
                    state["app"] = app
                    log(conn, ">", f"Startup user={kv.get(b'user', b'').decode()} "
                                   f"database={kv.get(b'database', b'').decode()} application_name={app}")
                    untyped = False
                    continue
                if not frontend and state.pop("await_ssl_answer", False):
                    answer, buf = buf[:1], buf[1:]
                    if answer == b"S":
                        state["tls"] = True
                        log(conn, "<", "TLS accepted: no further tracing")
                        break
                    continue
                if len(buf) < 5:
                    break
                (n,) = struct.unpack_from("!i", buf, 1)
                if len(buf) < 1 + n:
                    break
                typ, body, buf = buf[:1], buf[5:1 + n], buf[1 + n:]
                line = (describe_frontend if frontend else describe_backend)(typ, body)
                if line:
                    log(conn, ">" if frontend else "<", line)
    except (ConnectionError, asyncio.CancelledError):
        pass
    except Exception as e:  # a parsing bug must not break the connection
        log(conn, "!", f"trace error: {e!r}")
        state["tls"] = True
        return await pump(reader, writer, conn, frontend, state)
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(client_r, client_w, upstream_port):
    global COUNTER
    COUNTER += 1
    conn = COUNTER
    try:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", upstream_port)
    except OSError as e:
        log(conn, "!", f"cannot reach redsql: {e}")
        client_w.close()
        return
    state = {}
    await asyncio.gather(pump(client_r, up_w, conn, True, state),
                         pump(up_r, client_w, conn, False, state))


async def main():
    global LOG
    listen_port, upstream_port, logfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    LOG = open(logfile, "a", encoding="utf-8")
    server = await asyncio.start_server(lambda r, w: handle(r, w, upstream_port), "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
