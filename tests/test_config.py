"""
Tests for :mod:`txconsul._config`: arguments, ``CONSUL_*`` environment
variables and defaults.  Every test passes its own ``environ`` dict; none
touches ``os.environ``.
"""

from __future__ import annotations

import os
import pathlib

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from txconsul import Consul
from txconsul._config import ClientConfig, resolve_config

SECRET = "b3a9c1d4-0000-4e5f-8a7b-5ec2e75ec2e7"
PASSWORD = "hunter2-very-secret"


def resolve(**kwargs):
    kwargs.setdefault("environ", {})
    return resolve_config(**kwargs)


class DefaultsTests(SynchronousTestCase):
    """With no arguments and an empty environment."""

    def test_python_consul_defaults(self):
        """An empty environment gives http://127.0.0.1:8500, verify=True, nothing else."""
        cfg = resolve()
        self.assertEqual(
            (cfg.scheme, cfg.host, cfg.port, cfg.path_prefix, cfg.unix_path),
            ("http", "127.0.0.1", 8500, "", None),
        )
        self.assertEqual(
            (cfg.token, cfg.verify, cfg.ca_path, cfg.cert, cfg.server_name, cfg.basic_auth),
            (None, True, None, None, None, None),
        )
        self.assertEqual(cfg.base_url, "http://127.0.0.1:8500")

    def test_empty_variables_are_unset(self):
        """Variables set to the empty string are ignored, as in the Go client."""
        names = [
            "CONSUL_HTTP_ADDR",
            "CONSUL_HTTP_TOKEN",
            "CONSUL_HTTP_TOKEN_FILE",
            "CONSUL_HTTP_SSL",
            "CONSUL_HTTP_SSL_VERIFY",
            "CONSUL_CACERT",
            "CONSUL_CAPATH",
            "CONSUL_CLIENT_CERT",
            "CONSUL_CLIENT_KEY",
            "CONSUL_TLS_SERVER_NAME",
            "CONSUL_HTTP_AUTH",
        ]
        self.assertEqual(resolve(environ={n: "" for n in names}), ClientConfig())

    def test_environ_none_reads_os_environ(self):
        """environ=None gives the same outcome as passing a copy of os.environ."""

        def outcome(environ):
            try:
                return repr(resolve_config(environ=environ))
            except (ValueError, TypeError) as e:
                return type(e), str(e)

        self.assertEqual(outcome(None), outcome(dict(os.environ)))


class AddressTests(SynchronousTestCase):
    """CONSUL_HTTP_ADDR parsing."""

    def addr(self, value, **kwargs):
        return resolve(environ={"CONSUL_HTTP_ADDR": value}, **kwargs)

    def test_host_port(self):
        """host:port sets host and port and keeps http."""
        cfg = self.addr("consul.local:8600")
        self.assertEqual((cfg.scheme, cfg.host, cfg.port), ("http", "consul.local", 8600))

    def test_bare_host_keeps_default_port(self):
        """A bare host keeps port 8500."""
        cfg = self.addr("consul.local")
        self.assertEqual((cfg.host, cfg.port), ("consul.local", 8500))

    def test_http_url(self):
        """http://host:port sets host and port with http."""
        cfg = self.addr("http://10.0.0.1:8501")
        self.assertEqual(cfg.base_url, "http://10.0.0.1:8501")

    def test_https_url_forces_https(self):
        """https://host:port forces https."""
        cfg = self.addr("https://consul.local:8501")
        self.assertEqual(cfg.base_url, "https://consul.local:8501")

    def test_url_without_port_uses_scheme_port(self):
        """A URL with a scheme and no port uses 80/443, like the Go client's URL."""
        self.assertEqual(self.addr("https://consul.example.com").port, 443)
        self.assertEqual(self.addr("http://consul.example.com").port, 80)

    def test_url_without_port_follows_final_scheme(self):
        """http://host with CONSUL_HTTP_SSL=true dials 443, not 80."""
        cfg = resolve(environ={"CONSUL_HTTP_ADDR": "http://h", "CONSUL_HTTP_SSL": "1"})
        self.assertEqual(cfg.base_url, "https://h:443")

    def test_ipv6(self):
        """[::1]:8500 gives host ::1 and a bracketed URL."""
        cfg = self.addr("[::1]:8501")
        self.assertEqual((cfg.host, cfg.port), ("::1", 8501))
        self.assertEqual(cfg.base_url, "http://[::1]:8501")

    def test_ipv6_without_port(self):
        """[::1] and a bare ::1 keep the default port."""
        self.assertEqual((self.addr("[::1]").host, self.addr("[::1]").port), ("::1", 8500))
        self.assertEqual((self.addr("::1").host, self.addr("::1").port), ("::1", 8500))

    def test_ipv6_url(self):
        """https://[fe80::1]:8501 parses host, port and scheme."""
        cfg = self.addr("https://[fe80::1]:8501")
        self.assertEqual((cfg.scheme, cfg.host, cfg.port), ("https", "fe80::1", 8501))

    def test_path_prefix(self):
        """A path after the host becomes the reverse-proxy prefix."""
        cfg = self.addr("https://proxy.example:8443/consul/")
        self.assertEqual(cfg.path_prefix, "/consul")
        self.assertEqual(cfg.base_url, "https://proxy.example:8443/consul")

    def test_nested_path_prefix_without_scheme(self):
        """host:port/a/b also gives a prefix."""
        self.assertEqual(self.addr("proxy:80/a/b").path_prefix, "/a/b")

    def test_path_prefix_escaped(self):
        """A prefix with a space or non-ASCII is percent-escaped for the URL."""
        self.assertEqual(self.addr("http://p:1/a b/é").path_prefix, "/a%20b/%C3%A9")

    def test_slash_only_is_no_prefix(self):
        """host:port/ has no prefix."""
        self.assertEqual(self.addr("http://h:1/").path_prefix, "")

    def test_unix_socket(self):
        """unix:///path selects the socket; the URL host is localhost."""
        cfg = self.addr("unix:///var/run/consul.sock")
        self.assertEqual(cfg.unix_path, "/var/run/consul.sock")
        self.assertEqual(cfg.address, "unix:///var/run/consul.sock")
        self.assertEqual(cfg.base_url, "http://localhost")

    def test_unix_without_path(self):
        """unix:// with no path is a ValueError naming the variable."""
        e = self.assertRaises(ValueError, self.addr, "unix://")
        self.assertIn("CONSUL_HTTP_ADDR", str(e))

    def test_unknown_scheme(self):
        """Any other scheme is a ValueError naming the variable and the scheme."""
        e = self.assertRaises(ValueError, self.addr, "ftp://h:1")
        self.assertIn("CONSUL_HTTP_ADDR", str(e))
        self.assertIn("ftp", str(e))

    def test_scheme_case_insensitive(self):
        """HTTPS:// is read as https://."""
        self.assertEqual(self.addr("HTTPS://h:1").scheme, "https")

    def test_bad_port(self):
        """A non-numeric or out-of-range port is a ValueError naming the variable."""
        for value in ("h:http", "h:0", "h:65536", "h:-1", "[::1]:x", "h:"):
            e = self.assertRaises(ValueError, self.addr, value)
            self.assertIn("CONSUL_HTTP_ADDR", str(e))

    def test_missing_host(self):
        """:8500 and http://:8500 are ValueErrors."""
        for value in (":8500", "http://:8500"):
            self.assertRaises(ValueError, self.addr, value)

    def test_malformed_ipv6(self):
        """[::1 without a closing bracket is a ValueError."""
        self.assertRaises(ValueError, self.addr, "[::1:8500")
        self.assertRaises(ValueError, self.addr, "[::1]x")

    def test_credentials_in_address_not_echoed(self):
        """user:password@host is refused without echoing the password."""
        e = self.assertRaises(ValueError, self.addr, f"http://u:{PASSWORD}@h:8500")
        self.assertIn("CONSUL_HTTP_ADDR", str(e))
        self.assertNotIn(PASSWORD, str(e))

    def test_query_in_address_not_echoed(self):
        """A query string (which might hold a token) is refused without echoing it."""
        e = self.assertRaises(ValueError, self.addr, f"h:8500?token={SECRET}")
        self.assertNotIn(SECRET, str(e))

    def test_idna_host(self):
        """An international host name is converted to its ASCII form."""
        self.assertEqual(self.addr("bücher.example:1").host, "xn--bcher-kva.example")

    def test_surrounding_whitespace(self):
        """Whitespace around the value is ignored."""
        self.assertEqual(self.addr(" h:1\n").host, "h")


class PrecedenceTests(SynchronousTestCase):
    """Explicit arguments beat the environment."""

    def test_explicit_host_replaces_env_address(self):
        """An explicit host discards the env host, port and path prefix."""
        cfg = resolve(host="a.example", environ={"CONSUL_HTTP_ADDR": "b:9000/pfx"})
        self.assertEqual(cfg.base_url, "http://a.example:8500")

    def test_explicit_host_discards_unix_socket(self):
        """An explicit host discards an env unix socket."""
        cfg = resolve(host="a", environ={"CONSUL_HTTP_ADDR": "unix:///s.sock"})
        self.assertIsNone(cfg.unix_path)
        self.assertEqual(cfg.base_url, "http://a:8500")

    def test_explicit_port_discards_unix_socket(self):
        """An explicit port means TCP, so an env unix socket is dropped."""
        cfg = resolve(port=9000, environ={"CONSUL_HTTP_ADDR": "unix:///s.sock"})
        self.assertEqual(cfg.base_url, "http://127.0.0.1:9000")

    def test_explicit_port_keeps_env_host(self):
        """An explicit port replaces only the port of the env address."""
        cfg = resolve(port=9000, environ={"CONSUL_HTTP_ADDR": "b:8600"})
        self.assertEqual((cfg.host, cfg.port), ("b", 9000))

    def test_explicit_host_keeps_https_request(self):
        """An explicit host does not downgrade the https:// of the env address."""
        cfg = resolve(host="a", environ={"CONSUL_HTTP_ADDR": "https://b:8501"})
        self.assertEqual(cfg.base_url, "https://a:8500")

    def test_explicit_https_keeps_env_host(self):
        """scheme='https' with an env address keeps the env host and port."""
        cfg = resolve(scheme="https", environ={"CONSUL_HTTP_ADDR": "b:8501"})
        self.assertEqual(cfg.base_url, "https://b:8501")

    def test_explicit_http_beats_env(self):
        """scheme='http' beats CONSUL_HTTP_SSL and an https:// address."""
        env = {"CONSUL_HTTP_ADDR": "https://b:8501", "CONSUL_HTTP_SSL": "true"}
        self.assertEqual(resolve(scheme="http", environ=env).scheme, "http")

    def test_explicit_arguments_beat_everything(self):
        """Every explicit argument wins over its environment variable."""
        env = {
            "CONSUL_HTTP_ADDR": "https://e:1/p",
            "CONSUL_HTTP_TOKEN": "env-token",
            "CONSUL_CACERT": "/env/ca.pem",
            "CONSUL_CLIENT_CERT": "/env/c.pem",
            "CONSUL_CLIENT_KEY": "/env/k.pem",
            "CONSUL_TLS_SERVER_NAME": "env.example",
        }
        cfg = resolve(
            host="h",
            port=2,
            token="arg-token",
            scheme="http",
            verify=False,
            cert="/arg/both.pem",
            tls_server_name="arg.example",
            environ=env,
        )
        self.assertEqual(
            (cfg.base_url, cfg.token, cfg.verify, cfg.cert, cfg.server_name),
            ("http://h:2", "arg-token", False, "/arg/both.pem", "arg.example"),
        )

    def test_explicit_verify_true_ignores_env_trust(self):
        """verify=True explicitly means the system store, whatever the environment says."""
        env = {
            "CONSUL_CACERT": "/ca.pem",
            "CONSUL_CAPATH": "/cas",
            "CONSUL_HTTP_SSL_VERIFY": "false",
        }
        cfg = resolve(verify=True, environ=env)
        self.assertEqual((cfg.verify, cfg.ca_path), (True, None))

    def test_explicit_cert_ignores_half_env_pair(self):
        """An explicit cert means a lone CONSUL_CLIENT_CERT is not an error."""
        cfg = resolve(cert="/a.pem", environ={"CONSUL_CLIENT_CERT": "/c.pem"})
        self.assertEqual(cfg.cert, "/a.pem")

    def test_consul_passes_keywords(self):
        """Consul() resolves its arguments and environ through resolve_config."""
        c = Consul(port=9000, environ={"CONSUL_HTTP_ADDR": "b:1", "CONSUL_HTTP_TOKEN": SECRET})
        self.addCleanup(c.close)
        self.assertEqual(c.config.base_url, "http://b:9000")
        self.assertEqual(c.token, SECRET)


class SchemeTests(SynchronousTestCase):
    """CONSUL_HTTP_SSL and the scheme argument."""

    def test_ssl_true_values(self):
        """Every Go ParseBool true spelling turns on https."""
        for value in ("1", "t", "T", "TRUE", "true", "True"):
            cfg = resolve(environ={"CONSUL_HTTP_SSL": value})
            self.assertEqual(cfg.scheme, "https", value)

    def test_ssl_false_values(self):
        """Every Go ParseBool false spelling leaves http."""
        for value in ("0", "f", "F", "FALSE", "false", "False"):
            cfg = resolve(environ={"CONSUL_HTTP_SSL": value})
            self.assertEqual(cfg.scheme, "http", value)

    def test_ssl_invalid(self):
        """Anything else is a ValueError naming the variable."""
        for value in ("yes", "on", "tRUE", "2"):
            e = self.assertRaises(ValueError, resolve, environ={"CONSUL_HTTP_SSL": value})
            self.assertIn("CONSUL_HTTP_SSL", str(e))

    def test_ssl_false_does_not_downgrade_https_addr(self):
        """CONSUL_HTTP_SSL=false does not undo an https:// address."""
        env = {"CONSUL_HTTP_ADDR": "https://h:1", "CONSUL_HTTP_SSL": "false"}
        self.assertEqual(resolve(environ=env).scheme, "https")

    def test_http_addr_does_not_downgrade_ssl(self):
        """An http:// address does not downgrade CONSUL_HTTP_SSL=true."""
        env = {"CONSUL_HTTP_ADDR": "http://h:8501", "CONSUL_HTTP_SSL": "true"}
        self.assertEqual(resolve(environ=env).base_url, "https://h:8501")

    def test_invalid_scheme_argument(self):
        """scheme other than http/https is a ValueError."""
        self.assertRaises(ValueError, resolve, scheme="ftp")
        self.assertRaises(ValueError, resolve, scheme="HTTPS ")

    def test_unix_socket_with_tls(self):
        """TLS over a unix socket is refused rather than silently dropped."""
        env = {"CONSUL_HTTP_ADDR": "unix:///s", "CONSUL_HTTP_SSL": "true"}
        e = self.assertRaises(ValueError, resolve, environ=env)
        self.assertIn("unix socket", str(e))
        self.assertRaises(ValueError, resolve, scheme="https", environ={"CONSUL_HTTP_ADDR": "unix:///s"})


class ValidationTests(SynchronousTestCase):
    """Explicit arguments are checked before anything else happens."""

    def test_port_range(self):
        """Ports outside 1..65535 are ValueErrors."""
        for port in (0, -1, 65536):
            self.assertRaises(ValueError, resolve, port=port)

    def test_port_type(self):
        """A float, bool or None-like object is a TypeError."""
        for port in (8500.0, True, [8500]):
            self.assertRaises(TypeError, resolve, port=port)

    def test_port_numeric_string(self):
        """A decimal string port is accepted, as python-consul accepted it."""
        self.assertEqual(resolve(port="8600").port, 8600)
        self.assertRaises(ValueError, resolve, port="86a0")

    def test_port_bounds_accepted(self):
        """Ports 1 and 65535 are accepted."""
        self.assertEqual(resolve(port=1).port, 1)
        self.assertEqual(resolve(port=65535).port, 65535)

    def test_host_type(self):
        """A non-str host is a TypeError; an empty host a ValueError."""
        self.assertRaises(TypeError, resolve, host=b"h")
        self.assertRaises(ValueError, resolve, host="")

    def test_host_brackets_stripped(self):
        """host='[::1]' is the same as host='::1'."""
        self.assertEqual(resolve(host="[::1]").base_url, "http://[::1]:8500")

    def test_cert_types(self):
        """cert must be a str path or a (certfile, keyfile) tuple of str."""
        for cert in (b"/c.pem", ("/c.pem",), ("/c", "/k", "/x"), ["/c", "/k"], 1):
            self.assertRaises(TypeError, resolve, cert=cert)
        self.assertRaises(TypeError, resolve, cert=("/c", b"/k"))

    def test_cert_accepted(self):
        """Both cert forms, and path-like objects, are accepted."""
        self.assertEqual(resolve(cert="/c.pem").cert, "/c.pem")
        self.assertEqual(resolve(cert=("/c", "/k")).cert, ("/c", "/k"))
        path = pathlib.Path(self.mktemp())
        self.assertEqual(resolve(cert=path).cert, str(path))
        self.assertEqual(resolve(verify=path).verify, str(path))

    def test_cert_empty_path(self):
        """An empty cert path is a ValueError."""
        self.assertRaises(ValueError, resolve, cert="")
        self.assertRaises(ValueError, resolve, cert=("", "/k"))

    def test_verify_types(self):
        """verify must be a bool or a str path."""
        for verify in (1, 0, b"/ca", ["/ca"]):
            self.assertRaises(TypeError, resolve, verify=verify)
        self.assertEqual(resolve(verify="/ca.pem").verify, "/ca.pem")
        self.assertIs(resolve(verify=False).verify, False)

    def test_token_type(self):
        """A non-str token is a TypeError that does not show the token."""
        e = self.assertRaises(TypeError, resolve, token=SECRET.encode())
        self.assertNotIn(SECRET, str(e))

    def test_token_with_newline(self):
        """A token with a line break is refused without showing it."""
        e = self.assertRaises(ValueError, resolve, token=SECRET + "\r\nX-Evil: 1")
        self.assertNotIn(SECRET, str(e))

    def test_tls_server_name_type(self):
        """A non-str tls_server_name is a TypeError."""
        self.assertRaises(TypeError, resolve, tls_server_name=b"x")


class TokenTests(SynchronousTestCase):
    """Token precedence: argument > CONSUL_HTTP_TOKEN_FILE > CONSUL_HTTP_TOKEN."""

    def token_file(self, content):
        path = FilePath(self.mktemp())
        path.setContent(content)
        return path.path

    def test_env_token(self):
        """CONSUL_HTTP_TOKEN gives the token."""
        self.assertEqual(resolve(environ={"CONSUL_HTTP_TOKEN": SECRET}).token, SECRET)

    def test_token_file(self):
        """CONSUL_HTTP_TOKEN_FILE gives the stripped file content."""
        path = self.token_file(f"  {SECRET}\n".encode())
        cfg = resolve(environ={"CONSUL_HTTP_TOKEN_FILE": path})
        self.assertEqual(cfg.token, SECRET)

    def test_token_file_beats_env_token(self):
        """CONSUL_HTTP_TOKEN_FILE beats CONSUL_HTTP_TOKEN."""
        path = self.token_file(SECRET.encode())
        env = {"CONSUL_HTTP_TOKEN_FILE": path, "CONSUL_HTTP_TOKEN": "other"}
        self.assertEqual(resolve(environ=env).token, SECRET)

    def test_explicit_token_beats_file(self):
        """An explicit token beats both variables and the file is not read."""
        env = {"CONSUL_HTTP_TOKEN_FILE": "/does/not/exist", "CONSUL_HTTP_TOKEN": "x"}
        self.assertEqual(resolve(token=SECRET, environ=env).token, SECRET)

    def test_explicit_empty_token(self):
        """token='' means no token, even when the environment has one."""
        self.assertIsNone(resolve(token="", environ={"CONSUL_HTTP_TOKEN": SECRET}).token)

    def test_empty_token_file_falls_back(self):
        """A blank token file falls back to CONSUL_HTTP_TOKEN, as in the Go client."""
        path = self.token_file(b" \n")
        env = {"CONSUL_HTTP_TOKEN_FILE": path, "CONSUL_HTTP_TOKEN": SECRET}
        self.assertEqual(resolve(environ=env).token, SECRET)

    def test_missing_token_file(self):
        """An unreadable token file is a ValueError naming variable and path."""
        path = self.mktemp()
        e = self.assertRaises(
            ValueError, resolve, environ={"CONSUL_HTTP_TOKEN_FILE": path, "CONSUL_HTTP_TOKEN": SECRET}
        )
        self.assertIn("CONSUL_HTTP_TOKEN_FILE", str(e))
        self.assertIn(path, str(e))
        self.assertNotIn(SECRET, str(e))

    def test_token_file_is_directory(self):
        """A directory as token file is a ValueError naming the path."""
        path = self.mktemp()
        os.mkdir(path)
        e = self.assertRaises(ValueError, resolve, environ={"CONSUL_HTTP_TOKEN_FILE": path})
        self.assertIn(path, str(e))

    def test_token_file_not_utf8(self):
        """A binary token file is a ValueError that does not show its bytes."""
        path = self.token_file(b"\xff\xfe" + SECRET.encode())
        e = self.assertRaises(ValueError, resolve, environ={"CONSUL_HTTP_TOKEN_FILE": path})
        self.assertIn(path, str(e))
        self.assertNotIn(SECRET, str(e))

    def test_token_file_with_inner_newline(self):
        """A token file with two lines is refused without showing the token."""
        path = self.token_file(f"{SECRET}\nmore\n".encode())
        e = self.assertRaises(ValueError, resolve, environ={"CONSUL_HTTP_TOKEN_FILE": path})
        self.assertIn("CONSUL_HTTP_TOKEN_FILE", str(e))
        self.assertNotIn(SECRET, str(e))


class TLSVariableTests(SynchronousTestCase):
    """CONSUL_HTTP_SSL_VERIFY, CONSUL_CACERT, CONSUL_CAPATH, client cert, server name."""

    def test_ssl_verify_false(self):
        """CONSUL_HTTP_SSL_VERIFY=false gives verify=False."""
        for value in ("0", "f", "false", "False", "FALSE", "F"):
            cfg = resolve(environ={"CONSUL_HTTP_SSL_VERIFY": value})
            self.assertIs(cfg.verify, False)

    def test_ssl_verify_true(self):
        """CONSUL_HTTP_SSL_VERIFY=true leaves verify=True."""
        self.assertIs(resolve(environ={"CONSUL_HTTP_SSL_VERIFY": "1"}).verify, True)

    def test_ssl_verify_invalid(self):
        """An invalid CONSUL_HTTP_SSL_VERIFY is a ValueError naming it."""
        e = self.assertRaises(ValueError, resolve, environ={"CONSUL_HTTP_SSL_VERIFY": "no"})
        self.assertIn("CONSUL_HTTP_SSL_VERIFY", str(e))

    def test_ssl_verify_false_beats_cacert(self):
        """CONSUL_HTTP_SSL_VERIFY=false wins over CONSUL_CACERT, as in Go."""
        env = {"CONSUL_HTTP_SSL_VERIFY": "false", "CONSUL_CACERT": "/ca.pem"}
        self.assertIs(resolve(environ=env).verify, False)

    def test_cacert(self):
        """CONSUL_CACERT gives verify=<path>."""
        self.assertEqual(resolve(environ={"CONSUL_CACERT": "/ca.pem"}).verify, "/ca.pem")

    def test_capath(self):
        """CONSUL_CAPATH gives ca_path and leaves verify=True."""
        cfg = resolve(environ={"CONSUL_CAPATH": "/cas"})
        self.assertEqual((cfg.verify, cfg.ca_path), (True, "/cas"))

    def test_cacert_beats_capath(self):
        """CONSUL_CACERT wins over CONSUL_CAPATH, as in Go."""
        cfg = resolve(environ={"CONSUL_CACERT": "/ca.pem", "CONSUL_CAPATH": "/cas"})
        self.assertEqual((cfg.verify, cfg.ca_path), ("/ca.pem", None))

    def test_client_cert_pair(self):
        """CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY give a (cert, key) tuple."""
        env = {"CONSUL_CLIENT_CERT": "/c.pem", "CONSUL_CLIENT_KEY": "/k.pem"}
        self.assertEqual(resolve(environ=env).cert, ("/c.pem", "/k.pem"))

    def test_client_cert_alone(self):
        """Only one of the pair is a ValueError with the Go client's text."""
        for env in ({"CONSUL_CLIENT_CERT": "/c.pem"}, {"CONSUL_CLIENT_KEY": "/k.pem"}):
            e = self.assertRaises(ValueError, resolve, environ=env)
            self.assertIn("both client cert and client key must be provided", str(e))

    def test_server_name(self):
        """CONSUL_TLS_SERVER_NAME gives server_name with any port stripped."""
        for value, expected in [
            ("consul.example", "consul.example"),
            ("consul.example:8501", "consul.example"),
            ("[::1]:8501", "::1"),
            ("::1", "::1"),
        ]:
            cfg = resolve(environ={"CONSUL_TLS_SERVER_NAME": value})
            self.assertEqual(cfg.server_name, expected, value)

    def test_server_name_argument(self):
        """tls_server_name gives server_name."""
        self.assertEqual(resolve(tls_server_name="x.example").server_name, "x.example")


class BasicAuthTests(SynchronousTestCase):
    """CONSUL_HTTP_AUTH."""

    def test_user_password(self):
        """user:pass gives (user, pass); the password may hold colons."""
        cfg = resolve(environ={"CONSUL_HTTP_AUTH": f"admin:{PASSWORD}:x"})
        self.assertEqual(cfg.basic_auth, ("admin", f"{PASSWORD}:x"))

    def test_user_only(self):
        """A bare user gives an empty password."""
        self.assertEqual(resolve(environ={"CONSUL_HTTP_AUTH": "admin"}).basic_auth, ("admin", ""))


class SecretTests(SynchronousTestCase):
    """Secrets never show up in a repr."""

    def test_repr_hides_token_and_password(self):
        """The repr says a token and basic auth are set without showing them."""
        env = {"CONSUL_HTTP_TOKEN": SECRET, "CONSUL_HTTP_AUTH": f"admin:{PASSWORD}"}
        text = repr(resolve(environ=env))
        self.assertNotIn(SECRET, text)
        self.assertNotIn(PASSWORD, text)
        self.assertIn("token=set", text)
        self.assertIn("auth=set", text)
        self.assertEqual(text, str(resolve(environ=env)))

    def test_repr_without_token(self):
        """The repr shows the URL and token=none."""
        self.assertEqual(repr(resolve()), "<ClientConfig http://127.0.0.1:8500 token=none>")

    def test_consul_repr_hides_token(self):
        """Consul's repr does not show the token either."""
        c = Consul(token=SECRET, environ={})
        self.addCleanup(c.close)
        self.assertNotIn(SECRET, repr(c))
        self.assertNotIn(SECRET, repr(c.config))


class TransportSettingsTests(SynchronousTestCase):
    """The connection and response-limit keyword arguments of Consul(...)."""

    def make(self, **kw: object) -> Consul:
        from twisted.internet.task import Clock

        return Consul(reactor=Clock(), environ={}, **kw)  # type: ignore[arg-type]

    def test_defaults(self) -> None:
        """The documented defaults reach the pool and the parser limits."""
        c = self.make()
        pool = c.http.pool
        assert pool is not None
        self.assertEqual((pool.max_connections, pool.reserved), (100, 20))
        limits = c.http.limits
        self.assertEqual(
            (limits.max_body, limits.max_head, limits.max_trailer, limits.max_interim),
            (64 * 1024 * 1024, 64 * 1024, 16 * 1024, 5),
        )

    def test_given_values(self) -> None:
        """Explicit values are used."""
        c = self.make(
            max_connections=10,
            reserved_connections=2,
            max_response_body=1000,
            max_header_bytes=2000,
            max_trailer_bytes=0,
            max_interim_responses=0,
        )
        pool = c.http.pool
        assert pool is not None
        self.assertEqual((pool.max_connections, pool.reserved), (10, 2))
        self.assertEqual(c.http.limits.max_body, 1000)
        self.assertEqual(c.http.limits.max_interim, 0)

    def test_bad_values(self) -> None:
        """Bad limits are refused at construction, naming the argument."""
        for kw, name in (
            ({"max_response_body": 0}, "max_response_body"),
            ({"max_header_bytes": -1}, "max_header_bytes"),
            ({"max_trailer_bytes": -1}, "max_trailer_bytes"),
            ({"max_interim_responses": -2}, "max_interim_responses"),
            ({"max_connections": 0}, "max_connections"),
            ({"max_connections": 4, "reserved_connections": 4}, "reserved_connections"),
            ({"tls_handshake_timeout": 0}, "tls_handshake_timeout"),
        ):
            e = self.assertRaises(ValueError, self.make, **kw)
            self.assertIn(name, str(e))
        self.assertRaises(TypeError, self.make, max_response_body="big")

    def test_token_from_environment_validated(self) -> None:
        """A token from CONSUL_HTTP_TOKEN with a space is refused without being shown."""
        from twisted.internet.task import Clock

        e = self.assertRaises(
            ValueError, Consul, reactor=Clock(), environ={"CONSUL_HTTP_TOKEN": "abc def-secret"}
        )
        self.assertNotIn("secret", str(e))
