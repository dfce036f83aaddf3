//! Process signals for graceful shutdown.

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM: what an orchestrator sends before it
/// kills a container. Pass it to [`TcpServer::serve_until`](crate::transport::tcp::TcpServer::serve_until).
pub async fn shutdown_signal() {
    shutdown_signal_name().await;
}

/// [`shutdown_signal`], naming the signal that came: `"SIGINT"` (Ctrl-C) or `"SIGTERM"`.
pub async fn shutdown_signal_name() -> &'static str {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {
            tracing::info!("Ctrl-C received; shutting down");
            "SIGINT"
        }
        _ = term => {
            tracing::info!("SIGTERM received; shutting down");
            "SIGTERM"
        }
    }
}
