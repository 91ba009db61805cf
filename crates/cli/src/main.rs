//! `deepinside`: the command line over the deepinside crates. Each subcommand lives in
//! its own module under `commands/`; this file only parses and dispatches.
mod allocator;
mod candle_pool;
mod commands;
mod demo_images;
mod gallery;
mod method_args;
mod model_args;
mod png_queue;
mod progress;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "deepinside",
    version,
    about = "See inside ImageNet CNNs: saliency, DeconvNet, class models, localisation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Top-5 classes of images.
    Classify(commands::classify::Args),
    /// Download and cache a model's published weights.
    FetchModel(commands::fetch_model::Args),
    /// Saliency maps (gradient, DeconvNet or guided backprop) of a class or a channel.
    Saliency(commands::saliency::Args),
    /// Boxes for the top-k classes of images, from their saliency maps (GraphCut).
    Localise(commands::localise::Args),
    /// Class models and feature visualisations by gradient ascent on the input.
    Visualise(commands::visualise::Args),
    /// Classification and localisation metrics over a dataset (resumable).
    Eval(commands::eval::Args),
    /// Regenerate the paper's figures and tables on an ILSVRC folder (report + gallery).
    Repro(commands::repro::Args),
    /// Run on built-in defaults: fetch the model and sample photos, write results.
    Demo(commands::demo::Args),
}

fn main() -> std::process::ExitCode {
    allocator::keep_freed_pages();
    candle_pool::park_idle_workers_sooner();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(a) => commands::classify::run(a),
        Command::FetchModel(a) => commands::fetch_model::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::Saliency(a) => commands::saliency::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Localise(a) => commands::localise::run(a),
        Command::Visualise(a) => commands::visualise::run(a),
        Command::Repro(a) => commands::repro::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
