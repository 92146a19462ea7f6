//! `amqps://` end to end: a TLS-terminating proxy that this test runs on loopback, in front of the broker's
//! plain port, with certificates the test generates (a CA, and a server certificate for `localhost` it signs).
//! The run succeeds with that CA and fails (exit 3, naming the TLS error) with another one.

use crate::support::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use tempfile::TempDir;

fn ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// Starts the proxy (TLS on a free loopback port -> 127.0.0.1:5672) and returns its port. With `client_ca`, clients
/// must present a certificate that CA signed (mutual TLS).
fn proxy(ca: &CertifiedIssuer<'static, KeyPair>, client_ca: Option<&CertifiedIssuer<'static, KeyPair>>) -> u16 {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, ca).unwrap();
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(client_ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(CertificateDer::from(client_ca.as_ref().der().to_vec())).unwrap();
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Ok(mut broker) = tokio::net::TcpStream::connect("127.0.0.1:5672").await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
                });
            }
        });
    });
    port
}

#[test]
fn amqps_with_the_right_ca_runs_and_with_a_wrong_one_fails_naming_tls() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let (good, bad) = (ca(), ca());
    let port = proxy(&good, None);
    let write = |name: &str, ca: &CertifiedIssuer<'static, KeyPair>| {
        let p = tmp.path().join(name);
        std::fs::write(&p, ca.as_ref().pem()).unwrap();
        p.display().to_string()
    };
    let (good_pem, bad_pem) = (write("good-ca.pem", &good), write("bad-ca.pem", &bad));
    let url = format!("amqps://guest:guest@localhost:{port}/%2f");
    let id = run_id("tls");
    let out = tmp.path().join("ok");
    let tls = |pem: &str| format!("broker.tls.ca=\"{pem}\"");
    let args =
        ["--broker", &url, "--run-id", &id, "--set", &tls(&good_pem), "--set", "messages=200", "--time-scale", "10"];
    let o = run("scenarios/steady-state.toml".as_ref(), &out, &args);
    assert!(o.status.success(), "{}", text(&o));
    let s = summary(&out);
    assert_eq!(s["real_broker"]["tls"], true);
    assert_eq!(u(&s["messages"]["completed"]), 200);
    assert_accounted(&s);
    assert!(
        s["real_broker"]["server"].as_str().unwrap().starts_with("RabbitMQ"),
        "the probe read the greeting over TLS"
    );
    assert_no_queues_of(&id, "/");

    let out = tmp.path().join("wrong-ca");
    let args = ["--broker", &url, "--set", &tls(&bad_pem), "--set", "messages=10"];
    let o = run("scenarios/steady-state.toml".as_ref(), &out, &args);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let all = text(&o);
    assert!(all.contains(&format!("localhost:{port}")) && all.contains("TLS handshake failed"), "{all}");
    assert!(all.contains("UnknownIssuer") || all.contains("certificate"), "{all}");
    assert!(!all.contains("guest:guest"), "{all}");
    assert!(!out.exists());
}

#[test]
fn mutual_tls_with_a_client_certificate_and_without_one() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let server_ca = ca();
    let client_ca = ca();
    let port = proxy(&server_ca, Some(&client_ca));
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["loadtest-client".to_string()])
        .unwrap()
        .signed_by(&client_key, &client_ca)
        .unwrap();
    let file = |name: &str, text: String| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let ca_pem = file("ca.pem", server_ca.as_ref().pem());
    let cert_pem = file("client.pem", client.pem());
    let key_pem = file("client-key.pem", client_key.serialize_pem());
    let url = format!("amqps://guest:guest@localhost:{port}/%2f");
    let id = run_id("mtls");
    let out = tmp.path().join("ok");
    let set = |k: &str, v: &str| format!("broker.tls.{k}=\"{v}\"");
    let (ca_set, cert_set, key_set) = (set("ca", &ca_pem), set("cert", &cert_pem), set("key", &key_pem));
    let args = [
        "--broker",
        &url,
        "--run-id",
        &id,
        "--set",
        &ca_set,
        "--set",
        &cert_set,
        "--set",
        &key_set,
        "--set",
        "messages=100",
        "--time-scale",
        "10",
    ];
    let o = run("scenarios/steady-state.toml".as_ref(), &out, &args);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(u(&summary(&out)["messages"]["completed"]), 100);
    assert_no_queues_of(&id, "/");
    // Without the client certificate the server ends the handshake.
    let out = tmp.path().join("no-cert");
    let o = run(
        "scenarios/steady-state.toml".as_ref(),
        &out,
        &["--broker", &url, "--set", &ca_set, "--set", "messages=10"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("TLS") || text(&o).contains("closed the connection"), "{}", text(&o));
    assert!(!out.exists());
}
