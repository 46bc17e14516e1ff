//! An attachment through the real gateway with a real grpc-web client:
//! `buf curl --protocol grpcweb` (HTTP/1.1, binary grpc-web, schema from a
//! buf image of proto/) against `map dev`. An employee uploads a file in
//! 1 MiB chunks (one retried) to HDTS's UploadService, submits a ticket
//! with it, and reads it back intact by GetAttachment's stream; an agent
//! reads it too; another employee gets NOT_FOUND; an oversize file and a
//! mislabelled one get INVALID_ARGUMENT naming the field.
#![allow(clippy::unwrap_used)]

mod support;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use base64::Engine as _;
use map_kit::testing::poll_until;
use serde_json::{Value, json};
use sha2::Digest as _;
use support::DevPlatform;

/// A grpc-web client: `buf curl` through the gateway.
struct GrpcWeb {
    buf: PathBuf,
    image: PathBuf,
    gateway: String,
    dir: tempfile::TempDir,
}

impl GrpcWeb {
    /// Builds the buf image of the contracts the calls are encoded with.
    fn new(buf: PathBuf, gateway: &str) -> GrpcWeb {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("image.binpb");
        let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
        let out = Command::new(&buf)
            .arg("build")
            .arg(&proto)
            .arg("-o")
            .arg(&image)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "buf build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        GrpcWeb {
            buf,
            image,
            gateway: gateway.to_owned(),
            dir,
        }
    }

    /// Calls `method` with `body` (from a file: a 1 MiB chunk is longer
    /// than one command-line argument may be) as `token`'s holder: every
    /// message of the answer, or the error buf curl printed.
    fn call(&self, token: Option<&str>, method: &str, body: &Value) -> Result<Vec<Value>, String> {
        let file = self.dir.path().join("request.json");
        std::fs::write(&file, body.to_string()).unwrap();
        let mut cmd = Command::new(&self.buf);
        cmd.args([
            "curl",
            "--protocol",
            "grpcweb",
            "--reflect=false",
            "--timeout",
            "60s",
        ])
        .arg("--schema")
        .arg(&self.image)
        .arg("-d")
        .arg(format!("@{}", file.display()));
        if let Some(token) = token {
            cmd.args(["-H", &format!("authorization: Bearer {token}")]);
        }
        let out = cmd
            .arg(format!("http://{}/{method}", self.gateway))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)));
        }
        // A stream prints one JSON object per message.
        Ok(serde_json::Deserializer::from_str(&stdout)
            .into_iter::<Value>()
            .map(Result::unwrap)
            .collect())
    }

    /// The one answer of a unary call that must succeed.
    fn ok(&self, token: Option<&str>, method: &str, body: &Value) -> Value {
        match self.call(token, method, body) {
            Ok(mut answers) if answers.len() == 1 => answers.remove(0),
            other => panic!("{method}: {other:?}"),
        }
    }

    fn login(&self, email: &str, password: &str) -> String {
        let answer = self.ok(
            None,
            "map.auth.v1.AuthService/Login",
            &json!({"email": email, "password": password}),
        );
        answer["accessToken"].as_str().unwrap().to_owned()
    }

    /// `content` uploaded to HDTS as `token`'s holder in chunks of `chunk`
    /// bytes, the first sent twice (a retry): the CompleteUpload answer.
    fn upload(
        &self,
        token: &str,
        name: &str,
        content_type: &str,
        content: &[u8],
        chunk: usize,
    ) -> Result<Value, String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let started = self.call(
            Some(token),
            "map.hdts.v1.UploadService/StartUpload",
            &json!({"fileName": name, "contentType": content_type, "sizeBytes": content.len().to_string()}),
        )?;
        let id = started[0]["upload"]["id"].as_str().unwrap().to_owned();
        for (i, piece) in content.chunks(chunk).enumerate() {
            let body = json!({"uploadId": id, "offset": (i * chunk).to_string(), "data": b64.encode(piece)});
            let sent = if i == 0 { 2 } else { 1 };
            for _ in 0..sent {
                let answer = self.call(
                    Some(token),
                    "map.hdts.v1.UploadService/AppendUploadChunk",
                    &body,
                )?;
                let received = answer[0]["upload"]["receivedBytes"].as_str().unwrap_or("0");
                assert_eq!(
                    received,
                    (i * chunk + piece.len()).to_string(),
                    "{answer:?}"
                );
            }
        }
        let sha256 = hex::encode(sha2::Sha256::digest(content));
        self.call(
            Some(token),
            "map.hdts.v1.UploadService/CompleteUpload",
            &json!({"uploadId": id, "sha256": sha256}),
        )
        .map(|mut a| a.remove(0))
    }

    /// GetAttachment's stream put together: the first message's metadata
    /// and the content.
    fn download(&self, token: &str, file: &Value) -> Result<(Value, Vec<u8>), String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let messages = self.call(
            Some(token),
            "map.hdts.v1.HelpDeskService/GetAttachment",
            &json!({"file": file}),
        )?;
        let mut content = Vec::new();
        for m in &messages {
            let offset: usize = m["offset"].as_str().unwrap_or("0").parse().unwrap();
            assert_eq!(offset, content.len(), "chunks in order");
            content.extend(b64.decode(m["data"].as_str().unwrap_or_default()).unwrap());
        }
        Ok((messages[0]["attachment"].clone(), content))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_uploaded_over_grpc_web_comes_back_intact_to_those_who_may_see_it() {
    let Some(buf) = map_kit::testing::tool("buf") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let dev = DevPlatform::start(data.path());
    let password = dev
        .admin_password
        .clone()
        .expect("map dev printed the first admin's password");
    let web = GrpcWeb::new(buf, &dev.gateway);
    let admin = web.login("admin@map.local", &password);

    // A department, and three people in it: two employees and an agent.
    web.ok(
        Some(&admin),
        "map.auth.v1.DepartmentService/CreateDepartment",
        &json!({"department": {"code": "IT", "name": "IT"}}),
    );
    let person = |email: &str, role: &str| {
        web.ok(
            Some(&admin),
            "map.auth.v1.AdminService/CreateUser",
            &json!({"email": email, "displayName": email, "department": "IT", "password": "correct horse battery",
                    "roles": [{"system": "hdts", "role": role}]}),
        );
        web.login(email, "correct horse battery")
    };
    let ana = person("ana@map.local", "employee");
    let bob = person("bob@map.local", "employee");
    let cy = person("cy@map.local", "agent");

    // 1.5 MiB that sniff as a PNG, in 1 MiB chunks through the gateway.
    let mut content = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    content.extend((0..1_572_864u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let done = web
        .upload(&ana, "jam.png", "image/png", &content, 1024 * 1024)
        .unwrap();
    assert_eq!(done["upload"]["state"], "UPLOAD_STATE_COMPLETE", "{done}");
    let file = done["file"].clone();
    assert_eq!(file["system"], "hdts", "{done}");

    // The submission attaches it, once HDTS's directory knows department IT.
    let submission = json!({"subject": "Printer jams", "description": "See the photo", "departmentCode": "IT",
                            "category": "Hardware", "subCategory": "Printer", "attachments": [file],
                            "requestId": "01890a5d-ac96-774b-bcce-b302099a9001"});
    let submitted = poll_until(Duration::from_secs(60), || {
        let answer = web.call(
            Some(&ana),
            "map.hdts.v1.HelpDeskService/SubmitTicket",
            &submission,
        );
        async move { answer.is_ok() }
    })
    .await;
    assert!(submitted, "HDTS never took the submission");
    let ticket = web.ok(
        Some(&ana),
        "map.hdts.v1.HelpDeskService/SubmitTicket",
        &submission,
    );
    let attached = &ticket["ticket"]["attachments"][0];
    assert_eq!(
        (attached["fileName"].as_str(), attached["file"].clone()),
        (Some("jam.png"), file.clone()),
        "{ticket}"
    );
    assert_eq!(attached["sizeBytes"], content.len().to_string(), "{ticket}");

    // Back intact to the requester and to an agent; not there for Bob.
    let (meta, bytes) = web.download(&ana, &file).unwrap();
    assert_eq!(meta["contentType"], "image/png", "{meta}");
    assert!(
        bytes == content,
        "the requester's copy differs ({} bytes)",
        bytes.len()
    );
    let (_, bytes) = web.download(&cy, &file).unwrap();
    assert!(
        bytes == content,
        "the agent's copy differs ({} bytes)",
        bytes.len()
    );
    let refused = web.download(&bob, &file).unwrap_err();
    assert!(refused.contains("not_found"), "{refused}");

    // Too large, or not what it says it is: refused, naming the field.
    let oversize = web
        .call(Some(&ana), "map.hdts.v1.UploadService/StartUpload",
              &json!({"fileName": "huge.bin", "contentType": "application/octet-stream", "sizeBytes": "10485761"}))
        .unwrap_err();
    assert!(
        oversize.contains("invalid_argument") && oversize.contains("size_bytes"),
        "{oversize}"
    );
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n";
    let mislabelled = web
        .upload(&ana, "photo.png", "image/png", pdf, 1024)
        .unwrap_err();
    assert!(
        mislabelled.contains("invalid_argument") && mislabelled.contains("content_type"),
        "{mislabelled}"
    );
}
