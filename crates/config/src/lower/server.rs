//! `server: {store}`.

use bellwether_core::spec::Server;

use crate::diagnostic::Sink;
use crate::model::ServerConfig;

pub(super) fn lower(server: &ServerConfig, sink: &mut Sink<'_>) -> Server {
    let Some(store) = &server.store else {
        return Server::default();
    };
    let url = store.value.trim();
    let Some(rest) = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
    else {
        sink.error(
            store.pos,
            "the store is not a PostgreSQL URL (expected postgres://USER@HOST:PORT/DATABASE)",
        );
        return Server::default();
    };
    let user = rest.split(['/', '?']).next().unwrap_or("");
    if let Some((credentials, _)) = user.rsplit_once('@')
        && credentials.contains(':')
    {
        sink.error(
            store.pos,
            "the store's URL holds a password, which would sit in the file in the clear (expected postgres://USER@HOST:PORT/DATABASE, and the password in $PGPASSWORD)",
        );
        return Server::default();
    }
    Server {
        store: Some(url.to_owned()),
    }
}
