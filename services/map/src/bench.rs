//! `map bench <scenario>`: the platform's benchmarks (BENCHMARKS.md).

use map_bench::{LoadOptions, scenarios};

/// The scenarios. Each states its baseline in its report's notes.
#[derive(Debug, clap::Subcommand)]
pub enum Scenario {
    /// A bare tonic unary echo (grpc.health.v1 Check): the machine's ceiling.
    Baseline {
        #[command(flatten)]
        load: LoadOptions,
        /// HTTP/2 connections the callers share.
        #[arg(long, default_value_t = 4)]
        connections: usize,
    },
    /// Auth's ValidateToken and the cached authenticator, beside the echo
    /// measured in the same run (see BENCHMARKS.md).
    AuthValidate {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: scenarios::auth_validate::AuthValidateArgs,
    },
    /// The event backbone end to end (outbox → RabbitMQ → consumer with
    /// inbox), beside the broker's ceiling measured in the same run.
    Events {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        events: scenarios::events::EventsArgs,
    },
    /// Auth's NextAssignee on PostgreSQL beside the same server's
    /// single-row insert transactions, with the fairness of the picks.
    NextAssignee {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: scenarios::next_assignee::NextAssigneeArgs,
    },
    /// TTS's list, search and history pages at --baseline-tickets and then
    /// --tickets tickets on PostgreSQL (does a page's cost grow with the table?).
    TicketQueries {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: map_tts::bench::ticket_queries::TicketQueriesArgs,
    },
    /// SLA breaches fired per second by two timer workers on PostgreSQL
    /// (the producer's transactions alone in the same run), then their lag
    /// behind the deadlines at half that rate.
    SlaTimers {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: map_tts::bench::sla_timers::SlaTimersArgs,
    },
    /// AMS check-outs and check-ins racing over 1,000 assets on PostgreSQL
    /// (moves/s and refused races, beside single-row insert transactions in
    /// the same run), then every asset's ledger replayed for violations.
    AssetCheckout {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: map_ams::bench::asset_checkout::AssetCheckoutArgs,
    },
    /// A CSV file of assets uploaded and imported by ImportAssets on
    /// PostgreSQL at --baseline-rows and --rows (rows/s beside a plain
    /// multi-row insert of the same rows; the process's peak memory).
    AssetImport {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: map_ams::bench::asset_import::AssetImportArgs,
    },
    /// AMS's ListAssets pages at --baseline-assets and then --assets assets
    /// on PostgreSQL (does a page's cost grow with the register?).
    AssetList {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: map_ams::bench::asset_list::AssetListArgs,
    },
    /// BMS expenses racing onto a few STOP budget lines on PostgreSQL, with
    /// room to spare and then at their limits (beside single-row insert
    /// transactions in the same run), then every line checked against its
    /// ledger for overspending.
    BudgetExpenses {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: map_bms::bench::budget_expenses::BudgetExpensesArgs,
    },
    /// BMS's GetBudgetReport of a fiscal year of 1,000 lines on PostgreSQL
    /// at --baseline-expenses and then --expenses recorded expenses (does
    /// the report's cost grow with the ledger?), checked against the ledger.
    BudgetReport {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: map_bms::bench::budget_report::BudgetReportArgs,
    },
    /// Business-time deadlines (500 business hours, 50 holidays, a DST
    /// zone): the fast arithmetic beside its brute-force oracle.
    SlaCalendar {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: map_tts::bench::sla_calendar::SlaCalendarArgs,
    },
    /// The help-desk flow end to end as deployed (HDTS submit → TTS ticket
    /// assigned → HDTS mirror; APIs and workers as separate processes on
    /// PostgreSQL and RabbitMQ), beside the events pipeline and
    /// NextAssignee measured in the same run.
    TicketIntake {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        args: scenarios::ticket_intake::TicketIntakeArgs,
    },
    /// Unary calls direct vs through the gateway (gRPC, grpc-web and
    /// Connect JSON), same run, beside a bare hyper hop (`--bare-proxy`)
    /// and nginx's `grpc_pass` (`--nginx /usr/sbin/nginx`); then each at
    /// half the gateway's peak rate
    /// for the added p99.
    Gateway {
        #[command(flatten)]
        load: LoadOptions,
        #[command(flatten)]
        gateway: scenarios::gateway::GatewayArgs,
    },
}

pub async fn run(scenario: Scenario) -> anyhow::Result<()> {
    match scenario {
        Scenario::Baseline { load, connections } => {
            let report = scenarios::baseline::run(&load, connections)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            report.print(load.json);
        }
        Scenario::AuthValidate { load, args } => {
            let reports = scenarios::auth_validate::run(&load, &args)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for report in reports {
                report.print(load.json);
            }
        }
        Scenario::Events { load, events } => {
            let reports = scenarios::events::run(&load, &events)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for report in reports {
                report.print(load.json);
            }
        }
        Scenario::NextAssignee { load, args } => {
            let reports = scenarios::next_assignee::run(&load, &args)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for report in reports {
                report.print(load.json);
            }
        }
        Scenario::TicketQueries { load, args } => {
            let db = scenarios::bench_db::BenchDb::create(Some(&args.database_server))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            map_kit::db::migrate::<map_migrations::tts::Migrator>(&db.url).await?;
            let reports = map_tts::bench::ticket_queries::run(&db.db, &load, &args).await;
            db.remove().await;
            for report in reports.map_err(|e| anyhow::anyhow!("{e}"))? {
                report.print(load.json);
            }
        }
        Scenario::SlaTimers { load, args } => {
            let db = scenarios::bench_db::BenchDb::create(Some(&args.database_server))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            map_kit::db::migrate::<map_migrations::tts::Migrator>(&db.url).await?;
            let reports = map_tts::bench::sla_timers::run(&db.db, &load, &args).await;
            db.remove().await;
            for report in reports.map_err(|e| anyhow::anyhow!("{e}"))? {
                report.print(load.json);
            }
        }
        Scenario::AssetCheckout { load, args } => {
            let db = ams_db(&args.database_server).await?;
            let reports = map_ams::bench::asset_checkout::run(&db.db, &load, &args).await;
            db.remove().await;
            for report in reports.map_err(|e| anyhow::anyhow!("{e}"))? {
                report.print(load.json);
            }
        }
        Scenario::AssetImport { load, args } => {
            let db = ams_db(&args.database_server).await?;
            let reports = map_ams::bench::asset_import::run(&db.db, &args).await;
            db.remove().await;
            for report in reports.map_err(|e| anyhow::anyhow!("{e}"))? {
                report.print(load.json);
            }
        }
        Scenario::AssetList { load, args } => {
            let db = ams_db(&args.database_server).await?;
            let reports = map_ams::bench::asset_list::run(&db.db, &load, &args).await;
            db.remove().await;
            for report in reports.map_err(|e| anyhow::anyhow!("{e}"))? {
                report.print(load.json);
            }
        }
        Scenario::BudgetExpenses { load, args } => {
            let db = scenarios::bench_db::BenchDb::create(Some(&args.database_server))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            map_kit::db::migrate::<map_migrations::bms::Migrator>(&db.url).await?;
            let reports = map_bms::bench::budget_expenses::run(&db.db, &load, &args).await;
            db.remove().await;
            for report in reports.map_err(|e| anyhow::anyhow!("{e}"))? {
                report.print(load.json);
            }
        }
        Scenario::BudgetReport { load, args } => {
            let db = scenarios::bench_db::BenchDb::create(Some(&args.database_server))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            map_kit::db::migrate::<map_migrations::bms::Migrator>(&db.url).await?;
            let reports = map_bms::bench::budget_report::run(&db.db, &load, &args).await;
            db.remove().await;
            for report in reports.map_err(|e| anyhow::anyhow!("{e}"))? {
                report.print(load.json);
            }
        }
        Scenario::SlaCalendar { load, args } => {
            for report in map_tts::bench::sla_calendar::run(&args) {
                report.print(load.json);
            }
        }
        Scenario::TicketIntake { load, args } => {
            let reports = scenarios::ticket_intake::run(&load, &args)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for report in reports {
                report.print(load.json);
            }
        }
        Scenario::Gateway { load, gateway } => {
            let reports = scenarios::gateway::run(&load, &gateway)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for report in reports {
                report.print(load.json);
            }
        }
    }
    Ok(())
}

/// A fresh database on the PostgreSQL `server` with AMS's migrations.
async fn ams_db(server: &str) -> anyhow::Result<scenarios::bench_db::BenchDb> {
    let db = scenarios::bench_db::BenchDb::create(Some(server))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    map_kit::db::migrate::<map_migrations::ams::Migrator>(&db.url).await?;
    Ok(db)
}
