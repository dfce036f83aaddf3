//! Build-time code generation for gateway-core's gRPC transport (feature `grpc`).
//!
//! Nest loads a `.proto` at run time (`protoPath`, `package`); we compile it when the crate
//! builds, so a handler or a client naming a method the proto lacks, or the wrong message
//! type, is a compile error. From a `build.rs`:
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     gateway_build::compile_protos(&["proto/hero.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! and in the crate, once: `gateway_core::include_protos!();` which declares one module per
//! proto package (`hero`, `google::protobuf`, ...). Each holds:
//!
//! - the package's messages (prost), with serde's `Serialize`/`Deserialize` in the shape Nest's
//!   `@grpc/proto-loader` hands a handler with its default options (fields in lowerCamelCase,
//!   fields at their default value left out, `google.protobuf.Timestamp` as
//!   `{ seconds, nanos }`), which is also the JSON a gateway answers with;
//! - one module per service, named as the proto names it (`hero::HeroesService`), with one
//!   type per method (`hero::HeroesService::FindOne`, implementing
//!   `gateway_core::grpc::GrpcMethod`) and a typed `Client` (what `ClientGrpc::get_service`
//!   returns), one `async fn` per method in snake case.
//!
//! No system `protoc`: [`protox`] parses and checks the files (imports between them and
//! `google/protobuf/*.proto` included) and [`prost_build`] writes the Rust. A malformed proto
//! fails the build with the file, line and column of the mistake.

use std::fmt::Write as _;
use std::path::Path;

/// What went wrong compiling the protos: the file, line and column for a proto mistake.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// The file `OUT_DIR` gets, which `gateway_core::include_protos!()` includes.
pub const INCLUDE_FILE: &str = "gateway_protos.rs";

/// Compiles `protos` (searched for, with their imports, under `includes`) into Rust under
/// `OUT_DIR`, and tells Cargo to rebuild when one of them changes. See the crate docs.
pub fn compile_protos(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<(), Error> {
    let out_dir = std::env::var_os("OUT_DIR")
        .ok_or_else(|| Error("OUT_DIR is not set: call compile_protos from a build.rs".into()))?;
    compile_protos_into(protos, includes, Path::new(&out_dir))
}

/// [`compile_protos`], writing into `out_dir`.
pub fn compile_protos_into(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
    out_dir: &Path,
) -> Result<(), Error> {
    let fds = protox::compile(protos, includes).map_err(|error| {
        // miette's `Debug` is the one with the source line; its `Display` is one line.
        Error(format!("the protos do not compile: {error}\n{error:?}"))
    })?;
    for file in &fds.file {
        let name = file.name();
        for include in includes {
            let path = include.as_ref().join(name);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    let serde = "::gateway_core::grpc::__private::serde";
    let mut config = prost_build::Config::new();
    config
        .out_dir(out_dir)
        .include_file(INCLUDE_FILE)
        .prost_path("::gateway_core::grpc::__private::prost")
        // Well-known types generated with the rest, so they carry the same serde shape.
        .compile_well_known_types()
        .message_attribute(
            ".",
            format!(
                "#[derive({serde}::Serialize, {serde}::Deserialize)]\n\
                 #[serde(crate = \"{serde}\", rename_all = \"camelCase\", default)]"
            ),
        )
        // proto-loader's default (`defaults: false`) leaves a field at its default value out
        // of the object, so `JSON.stringify` at a Nest gateway leaves it out too.
        .field_attribute(
            ".",
            "#[serde(skip_serializing_if = \"::gateway_core::grpc::__private::is_default\")]",
        )
        .enum_attribute(
            ".",
            format!(
                "#[derive({serde}::Serialize, {serde}::Deserialize)]\n\
                 #[serde(crate = \"{serde}\", rename_all = \"camelCase\")]"
            ),
        )
        .service_generator(Box::new(Services));
    config
        .compile_fds(fds)
        .map_err(|error| Error(format!("generating Rust from the protos: {error}")))
}

/// Writes, for each service, the module of its method types and its typed client.
struct Services;

/// A message type named from inside the service's module.
fn from_service_module(rust_type: &str) -> String {
    if rust_type.starts_with("::") || rust_type.starts_with("crate::") {
        rust_type.to_string()
    } else {
        format!("super::{rust_type}")
    }
}

impl prost_build::ServiceGenerator for Services {
    fn generate(&mut self, service: prost_build::Service, buf: &mut String) {
        let full = if service.package.is_empty() {
            service.proto_name.clone()
        } else {
            format!("{}.{}", service.package, service.proto_name)
        };
        let core = "::gateway_core::grpc";
        let error = "::gateway_core::client::RpcError";
        let _ = writeln!(
            buf,
            "/// The gRPC service `{full}`: its methods as types (for `#[grpc_method]`) and its typed client.\n\
             #[allow(non_snake_case, clippy::all)]\n\
             pub mod {name} {{\n\
             /// The service's name with its package, as on the wire.\n\
             pub const NAME: &str = \"{full}\";\n",
            name = service.proto_name
        );
        let mut client = String::new();
        for method in &service.methods {
            let (req, res) = (
                from_service_module(&method.input_type),
                from_service_module(&method.output_type),
            );
            let (cs, ss) = (method.client_streaming, method.server_streaming);
            let signature = format!(
                "rpc {}({}{}) returns ({}{})",
                method.proto_name,
                if cs { "stream " } else { "" },
                method.input_proto_type,
                if ss { "stream " } else { "" },
                method.output_proto_type
            );
            let _ = writeln!(
                buf,
                "/// `{signature}`\n\
                 #[allow(non_camel_case_types)]\n\
                 #[derive(Debug, Clone, Copy)]\n\
                 pub struct {m};\n\
                 impl {core}::GrpcMethod for {m} {{\n\
                 type Request = {req};\n\
                 type Response = {res};\n\
                 const SERVICE: &'static str = \"{svc}\";\n\
                 const METHOD: &'static str = \"{m}\";\n\
                 const PATH: &'static str = \"/{full}/{m}\";\n\
                 const CLIENT_STREAMING: bool = {cs};\n\
                 const SERVER_STREAMING: bool = {ss};\n\
                 }}",
                m = method.proto_name,
                svc = service.proto_name,
            );
            let (input, call_input) = if cs {
                (
                    format!("<S: {core}::__private::Stream<Item = {req}> + Send + 'static>(&self, requests: impl {core}::IntoGrpcRequest<S>)"),
                    "requests",
                )
            } else {
                (
                    format!("(&self, request: impl {core}::IntoGrpcRequest<{req}>)"),
                    "request",
                )
            };
            let (output, how) = match (cs, ss) {
                (false, false) => (res.clone(), "unary"),
                (false, true) => (format!("{core}::GrpcStream<{res}>"), "server_streaming"),
                (true, false) => (res.clone(), "client_streaming"),
                (true, true) => (format!("{core}::GrpcStream<{res}>"), "streaming"),
            };
            let _ = writeln!(
                client,
                "/// `{signature}`\n\
                 pub async fn {f}{input} -> ::core::result::Result<{output}, {error}> {{\n\
                 self.0.{how}::<{m}, _>({call_input}).await\n\
                 }}",
                f = method.name,
                m = method.proto_name,
            );
        }
        let _ = writeln!(
            buf,
            "/// A typed client of `{full}`: `ClientGrpc::get_service::<Client>()`.\n\
             #[derive(Debug, Clone)]\n\
             pub struct Client({core}::GrpcChannel);\n\
             impl {core}::GrpcService for Client {{\n\
             const NAME: &'static str = NAME;\n\
             fn from_channel(channel: {core}::GrpcChannel) -> Self {{ Client(channel) }}\n\
             }}\n\
             impl Client {{\n{client}}}\n\
             }}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("gateway-build-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_malformed_proto_fails_with_its_file_and_place() {
        let dir = scratch("malformed");
        std::fs::write(
            dir.join("bad.proto"),
            "syntax = \"proto3\";\npackage bad;\nmessage A {\n  string name = 1\n}\n",
        )
        .unwrap();
        let error = compile_protos_into(&["bad.proto"], &[&dir], &dir).unwrap_err();
        let text = error.to_string();
        // Where the parser stopped: the `}` after the field that lacks its `;`.
        assert!(
            text.contains("bad.proto:5:1: expected ';' or '[', but found '}'"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_import_is_named() {
        let dir = scratch("import");
        std::fs::write(
            dir.join("a.proto"),
            "syntax = \"proto3\";\npackage a;\nimport \"b.proto\";\n",
        )
        .unwrap();
        let text = compile_protos_into(&["a.proto"], &[&dir], &dir)
            .unwrap_err()
            .to_string();
        assert!(text.contains("b.proto"), "{text}");
    }

    #[test]
    fn services_get_method_types_and_a_client() {
        let dir = scratch("service");
        std::fs::write(
            dir.join("svc.proto"),
            "syntax = \"proto3\";\npackage svc;\nimport \"google/protobuf/timestamp.proto\";\n\
             service Clock { rpc Now (Zone) returns (google.protobuf.Timestamp);\n\
             rpc Ticks (stream Zone) returns (stream Tick); }\n\
             message Zone { optional string name = 1; }\nmessage Tick { int64 n = 1; }\n",
        )
        .unwrap();
        compile_protos_into(&["svc.proto"], &[&dir], &dir).unwrap();
        let code = std::fs::read_to_string(dir.join("svc.rs")).unwrap();
        for expected in [
            "pub mod Clock",
            "pub struct Now;",
            "type Request = super::Zone;",
            "type Response = super::super::google::protobuf::Timestamp;",
            "const PATH: &'static str = \"/svc.Clock/Ticks\";",
            "const CLIENT_STREAMING: bool = true;",
            "pub async fn ticks<S:",
        ] {
            assert!(code.contains(expected), "{expected} in:\n{code}");
        }
        let includes = std::fs::read_to_string(dir.join(INCLUDE_FILE)).unwrap();
        assert!(includes.contains("pub mod google"), "{includes}");
    }
}
