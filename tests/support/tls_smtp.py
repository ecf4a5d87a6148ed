"""A TLS SMTP server for tests, from aiosmtpd (a server this project did not
write): STARTTLS on a plain port, or TLS from the first byte, with AUTH.

    python3 tls_smtp.py MODE PORT CERT KEY USER PASSWORD DUMP

MODE is `starttls` or `implicit`. Every accepted message is appended to
DUMP as `RCPT <addr>` lines, the message, and a `.` line. Prints `ready`.
"""
import asyncio
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

mode, port, cert, key, user, password, dump = sys.argv[1:8]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(dump, "a") as f:
            for rcpt in envelope.rcpt_tos:
                f.write(f"RCPT {rcpt}\n")
            f.write(f"TLS {server.transport.get_extra_info('sslcontext') is not None}\n")
            f.write(f"AUTH {session.authenticated}\n")
            f.write(envelope.content.decode("ascii", "replace"))
            f.write("\n.\n")
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    # handled=False: aiosmtpd's default (True) means "I replied myself", and
    # it would then never answer a failed AUTH.
    return AuthResult(success=ok, handled=False)


kwargs = dict(hostname="127.0.0.1", port=int(port), authenticator=authenticator, auth_required=True)
if mode == "starttls":
    controller = Controller(Handler(), tls_context=context, require_starttls=True, **kwargs)
else:
    # aiosmtpd only counts STARTTLS as TLS for AUTH; here the whole session is.
    controller = Controller(Handler(), ssl_context=context, server_hostname="localhost", auth_require_tls=False, **kwargs)
controller.start()
print("ready", flush=True)
try:
    sys.stdin.read()
finally:
    controller.stop()
