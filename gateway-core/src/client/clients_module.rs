//! [`ClientsModule`]: client proxies as providers.

use super::{ClientOptions, ClientProxy};
use crate::di::{Import, ModuleBuilder, Provider};

/// Nest's `ClientsModule`: registers one [`ClientProxy`] per [`ClientOptions`], under its
/// name, to be injected with `#[inject("USERS_SERVICE")] users: ClientProxy`.
pub struct ClientsModule {
    clients: Vec<ClientOptions>,
}

impl ClientsModule {
    /// `ClientsModule.register([{ name: 'USERS_SERVICE', transport: Transport.TCP, .. }])`.
    pub fn register(clients: impl IntoIterator<Item = ClientOptions>) -> Self {
        ClientsModule {
            clients: clients.into_iter().collect(),
        }
    }
}

impl Import for ClientsModule {
    fn import(self, into: &mut ModuleBuilder<'_>) {
        for options in self.clients {
            let name = options.name().to_owned();
            into.provide(Provider::value(name, ClientProxy::new(options)));
        }
    }
}
