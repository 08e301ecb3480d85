#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from the golden vectors
(protocol/tests/golden_vectors.txt) and small valid inputs. Run from anywhere; rerun after
the golden vectors change. Each target's input layout is described at the top of its file."""
import hashlib
import pathlib

FUZZ = pathlib.Path(__file__).resolve().parent
GOLDEN = FUZZ.parent / "protocol" / "tests" / "golden_vectors.txt"


def cobs_decode(data):
    out, i = bytearray(), 0
    while i < len(data):
        code = data[i]
        out += data[i + 1 : i + code]
        i += code
        if code < 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


def golden():
    for line in GOLDEN.read_text().splitlines():
        name, hexed = line.split()
        wire = bytes.fromhex(hexed)
        raw = cobs_decode(wire.strip(b"\0"))
        yield name, wire, raw[1], raw[4:-2]  # name, wire bytes, kind, postcard body


def write(target, name, data):
    d = FUZZ / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


vectors = list(golden())
requests = [(n, body) for n, _, kind, body in vectors if kind == 0]

# frame: every golden frame, all of them back to back, and one after line garbage.
for name, wire, _, _ in vectors:
    write("frame", name, wire)
write("frame", "all", b"".join(w for _, w, _, _ in vectors))
write("frame", "garbage_then_hello", b"\x55\xaa\x13\x00\x01" + vectors[0][1])

# message: the type byte (0 request, 1 response, 2 event, as the kind byte) and the body.
for name, _, kind, body in vectors:
    if kind <= 2:
        write("message", name, bytes([kind]) + body)

# open_sealed: each request sealed and opened (ctrl 0x04), a response and an event likewise,
# an altered one (0x0C), a replay (0x10) and a forgery (0x00).
for name, body in requests:
    write("open_sealed", name, bytes([0x04, len(body)]) + body)
resp = [b for n, _, k, b in vectors if k == 1]
evts = [b for n, _, k, b in vectors if k == 2]
write("open_sealed", "mixed", bytes([0x05, len(resp[0])]) + resp[0] + bytes([0x06, len(evts[0])])
      + evts[0] + bytes([0x0C, 2, 4, 5, 77, 0x10, 0]))
sealed = bytes.fromhex("0503150001000000970179b381544e5c9584f6c3f6d2666294")
write("open_sealed", "golden_sealed_request_raw", bytes([0x00, len(sealed) - 4]) + sealed[4:])

# dispatcher: each request in an installer session, a technician's and a plaintext one, and a
# day at the door in between.
for name, body in requests:
    write("dispatcher", name, b"\x00" + body)
door = b"\x05\x06" + bytes([0, 5, 8, 2, 1, 3]) + b"\x04\x3c" + b"\x06\x04\xa1\xb2\xc3\x1d" + b"\x07"
by = dict(requests)
write("dispatcher", "day", b"".join(b"\x00" + by[n] for n in
      ["req_put_user", "req_set_pin", "req_add_card", "req_read_log"]) + door
      + b"\x01" + by["req_get_settings"] + b"\x02" + by["req_hello"] + b"\x00" + by["req_verify_log"])

# site_file: the reader byte (0 toml, 1 csv, 2 json, 3 the JSON list) and a file.
toml = b'''[[user]]
user = 1
name = "Ann Smith"
pin = "058213"
cards = ["04a1b2c3"]

[[user]]
user = 2
name = "Cleaner"
kind = "scheduled"
windows = ["mon-fri 07:00-09:00", "sat 10:00-12:00"]
pin = "generate"

[[user]]
user = 3
name = "Holiday let"
kind = "guest"
valid_from = "2026-12-20"
valid_until = "2026-12-27T18:00+01:00"
pin = "739150"
uses = 20
'''
csv = b'''user,name,kind,windows,pin,cards
1,Ann Smith,owner,,058213,04a1b2c3
2,Cleaner,scheduled,mon-fri 07:00-09:00;sat 10:00-12:00,generate,
3,Guest,expiring,,,04a1b2c3d4e5f6
'''
json = (b'[{"user":1,"name":"Ann Smith","pin":"058213","cards":["04a1b2c3"]},'
        b'{"user":2,"name":"Cleaner","kind":"scheduled","windows":["mon-fri 07:00-09:00"],'
        b'"valid_from":"2026-01-01","valid_until":"+30d","use_limit":5,"fingers":1,'
        b'"phones":["' + b"cc" * 32 + b'"]},{"user":3,"name":"Temp","kind":"expiring",'
        b'"expire_minutes":90,"enabled":false}]')
write("site_file", "site.toml", b"\x00" + toml)
write("site_file", "site.csv", b"\x01" + csv)
write("site_file", "site.json", b"\x02" + json)
write("site_file", "provision.json", b"\x03" + json)

# time_zone: rules for the protocol's parser (0) and the host's reader (1), and wire rules (2);
# text, then 0xFF and an instant.
at = b"\xff" + (1_774_746_000).to_bytes(8, "little")
for rule in ["CET-1CEST,M3.5.0,M10.5.0/3", "UTC0", "<+0545>-5:45", "EST5EDT,M3.2.0,M11.1.0",
             "AEST-10AEDT,M10.1.0,M4.1.0/3", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
             "IST-1GMT0,M10.5.0,M3.5.0/1", "XST3XDT,J60/2,300/2"]:
    tag = hashlib.sha1(rule.encode()).hexdigest()[:8]
    write("time_zone", "rule_" + tag, b"\x00" + rule.encode() + at)
for text in ["Europe/Berlin", ":America/New_York", "EST5EDT", "Europe/Berln", "UTC"]:
    write("time_zone", "host_" + text.replace("/", "_").replace(":", ""), b"\x01" + text.encode())
set_tz = by["req_set_time_zone"]
write("time_zone", "wire_rule", b"\x02" + set_tz[2:] + at)

# flash_mount: each region of the lived-in image as it is (XOR with nothing), at a few pages,
# and erased flash.
for how in range(8):
    for page in [0, 1, 3]:
        write("flash_mount", f"region{how}_page{page}", bytes([how, page]))
write("flash_mount", "log_flipped", bytes([2, 0]) + bytes(40) + b"\x01")
