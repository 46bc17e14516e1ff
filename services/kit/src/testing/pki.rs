//! Certificates made by a test: a CA of its own and certificates it signs
//! (for servers and clients alike: rcgen sets no key usage, so each serves
//! either end), written as PEM files where a process reads them.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A test's certificate authority.
#[derive(Debug)]
pub struct TestCa {
    /// The CA certificate, PEM: what every party trusts.
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate signed by a [`TestCa`], with its key.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PEM (PKCS#8).
    pub key_pem: String,
}

/// Where [`Issued::write`] put a certificate and its key.
#[derive(Debug, Clone)]
pub struct IssuedFiles {
    /// The certificate's file.
    pub cert: PathBuf,
    /// The key's file.
    pub key: PathBuf,
}

fn fail(e: rcgen::Error) -> ! {
    panic!("making a test certificate: {e}")
}

impl TestCa {
    /// A new CA named `name` (its common name), with a fresh P-256 key.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().unwrap_or_else(|e| fail(e));
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| fail(e));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap_or_else(|e| fail(e));
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `names` (DNS names or IP addresses), signed by this CA.
    pub fn issue(&self, names: &[&str]) -> Issued {
        let key = KeyPair::generate().unwrap_or_else(|e| fail(e));
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).unwrap_or_else(|e| fail(e));
        let cert = params
            .signed_by(&key, &self.issuer)
            .unwrap_or_else(|e| fail(e));
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes the CA certificate to `path`.
    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, &self.pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path.to_owned()
    }
}

impl Issued {
    /// Writes the certificate and key as `<stem>.crt` and `<stem>.key` in `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> IssuedFiles {
        let cert = dir.join(format!("{stem}.crt"));
        let key = dir.join(format!("{stem}.key"));
        for (path, pem) in [(&cert, &self.cert_pem), (&key, &self.key_pem)] {
            std::fs::write(path, pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        IssuedFiles { cert, key }
    }

    /// The server side of a kit server: this certificate, requiring client
    /// certificates signed by `client_ca` when given (mTLS).
    pub fn server_tls(&self, client_ca: Option<&TestCa>) -> crate::config::TlsConfig {
        crate::config::TlsConfig {
            cert_pem: self.cert_pem.clone().into_bytes(),
            key_pem: secrecy::SecretString::from(self.key_pem.clone()),
            client_ca_pem: client_ca.map(|ca| ca.pem.clone().into_bytes()),
        }
    }
}
