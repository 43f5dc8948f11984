//! One call of the machine made against Gitea, Drone or the runs directory,
//! its answer turned into plain data and its error into a classified failure.
//! Nothing is decided here.

use time::OffsetDateTime;

use crate::bridge::machine::{Answer, Call, Event, Failure, SeenPost};
use crate::contract::ContractError;
use crate::forge::ErrorClass;
use crate::forge::drone::{BuildCreated, DroneError};
use crate::forge::gitea::{self, ApiObserver, GiteaError};
use crate::names;
use crate::results::ResultsV1;

use super::Bridge;

fn gitea_failed(e: GiteaError) -> Event {
    Event::Failed(match e {
        GiteaError::Transport { .. } => Failure::lost(e.class(), e.to_string()),
        GiteaError::Status { status, .. } => Failure {
            auth: matches!(status, 401 | 403),
            ..Failure::new(e.class(), e.to_string())
        },
        _ => Failure::new(e.class(), e.to_string()),
    })
}

fn drone_failed(e: DroneError) -> Event {
    Event::Failed(match e {
        DroneError::Transport { .. } => Failure::lost(e.class(), e.to_string()),
        DroneError::Status { status, .. } => Failure {
            auth: matches!(status, 401 | 403),
            ..Failure::new(e.class(), e.to_string())
        },
        _ => Failure::new(e.class(), e.to_string()),
    })
}

/// The API a call goes to (`None`: the runs directory).
pub(super) fn api_of(call: &Call) -> Option<&'static str> {
    match call {
        Call::RecentBuilds { .. }
        | Call::CreateBuild { .. }
        | Call::CancelBuild { .. }
        | Call::Build { .. } => Some("drone"),
        Call::ReadResults { .. } => None,
        _ => Some("gitea"),
    }
}

/// Why a build's results cannot be reported, in words fit for the PR
/// (no host paths): a missing file is not the same as one of another schema.
fn results_problem(e: &ContractError) -> String {
    let file = names::files::RESULTS_FILE;
    match e {
        ContractError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            format!("no {file}")
        }
        ContractError::Read { .. } => format!("{file} could not be read"),
        ContractError::Parse { .. } => format!("{file} is not valid"),
        ContractError::Schema {
            found, expected, ..
        } => format!("{file} has schema {found}, the bridge reads schema {expected}"),
    }
}

fn time_at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn gitea<T>(r: Result<T, GiteaError>, f: impl FnOnce(T) -> Answer) -> Event {
    match r {
        Ok(v) => Event::Answer(f(v)),
        Err(e) => gitea_failed(e),
    }
}

impl Bridge {
    /// A screenshot of a build's run, for the PR: only a file the naming
    /// rules call a screenshot, only up to the size cap.
    fn screenshot(&self, build: u64, file: &str) -> Result<Vec<u8>, String> {
        if !names::files::is_screenshot_name(file) {
            return Err(format!("{file:?} is not a screenshot's name"));
        }
        let path = names::files::build_output_dir(&self.settings.runs_dir, build).join(file);
        let len = std::fs::metadata(&path)
            .map_err(|e| format!("{file}: {}", e.kind()))?
            .len();
        if len > gitea::MAX_ASSET_BYTES {
            return Err(format!(
                "{file} is {len} bytes, more than the {} the bridge uploads",
                gitea::MAX_ASSET_BYTES
            ));
        }
        std::fs::read(&path).map_err(|e| format!("{file}: {}", e.kind()))
    }

    /// Make the call; its outcome is the machine's next event.
    pub(super) async fn perform(&self, call: Call) -> Event {
        let g = &self.gitea;
        match call {
            Call::Reactions { repo, comment } => {
                gitea(g.reactions(repo.as_str(), comment).await, |rs| {
                    Answer::Reactions(
                        rs.into_iter()
                            .map(|r| (r.user.map(|u| u.login).unwrap_or_default(), r.content))
                            .collect(),
                    )
                })
            }
            Call::Membership { org, user } => {
                gitea(g.membership(&org, &user).await, Answer::Membership)
            }
            Call::Pull { repo, pr } => gitea(g.pull(repo.as_str(), pr).await, |p| Answer::Pull {
                state: p.state,
                merged: p.merged,
                head_sha: p.head.sha,
                head_repo: p.head.repo.map(|r| r.full_name),
            }),
            Call::Timeline { repo, pr, since } => {
                let r = g.timeline_since(repo.as_str(), pr, time_at(since)).await;
                gitea(r, |events| {
                    Answer::Timeline(
                        events
                            .into_iter()
                            .map(|e| {
                                let at =
                                    gitea::parse_time(&e.created_at).map(|t| t.unix_timestamp());
                                (u64::try_from(e.id).unwrap_or(0), e.kind, at)
                            })
                            .collect(),
                    )
                })
            }
            Call::Comments { repo, pr, since } => {
                let r = g.pr_comments_since(repo.as_str(), pr, time_at(since)).await;
                gitea(r, |cs| {
                    Answer::Comments(
                        cs.into_iter()
                            .map(|c| SeenPost {
                                id: c.id,
                                login: c.login().to_owned(),
                                body: c.body,
                            })
                            .collect(),
                    )
                })
            }
            Call::React {
                repo,
                comment,
                content,
            } => gitea(g.react(repo.as_str(), comment, content).await, |()| {
                Answer::Done
            }),
            Call::Post { repo, pr, body } => {
                gitea(g.create_comment(repo.as_str(), pr, &body).await, |c| {
                    Answer::Posted(c.id)
                })
            }
            Call::Edit {
                repo,
                comment,
                body,
            } => gitea(g.edit_comment(repo.as_str(), comment, &body).await, |()| {
                Answer::Done
            }),
            Call::SetStatus { repo, sha, status } => {
                gitea(g.set_status(repo.as_str(), &sha, &status).await, |()| {
                    Answer::Done
                })
            }
            Call::RecentBuilds { page } => {
                let ci = &self.settings.ci_repo;
                let per_page = crate::bridge::machine::EVIDENCE_PAGE;
                let r = self
                    .drone
                    .builds(ci.owner(), ci.name(), page, per_page)
                    .await;
                self.metrics.request("drone", "builds", r.is_ok());
                match r {
                    Ok(bs) => Event::Answer(Answer::Builds(
                        bs.into_iter()
                            .map(|b| (b.number.max(0) as u64, b.params))
                            .collect(),
                    )),
                    Err(e) => drone_failed(e),
                }
            }
            Call::CreateBuild { query } => {
                let ci = &self.settings.ci_repo;
                let r = self
                    .drone
                    .create_build(ci.owner(), ci.name(), &self.settings.ci_branch, &query)
                    .await;
                self.metrics.request("drone", "create_build", r.is_ok());
                match r {
                    Ok(BuildCreated::Created(b)) => {
                        Event::Answer(Answer::Created(Some(b.number.max(0) as u64)))
                    }
                    Ok(BuildCreated::NotScheduled) => Event::Answer(Answer::Created(None)),
                    Err(e) => drone_failed(e),
                }
            }
            Call::CancelBuild { number } => {
                let ci = &self.settings.ci_repo;
                let r = self
                    .drone
                    .cancel_build(ci.owner(), ci.name(), number as i64)
                    .await;
                self.metrics.request("drone", "cancel_build", r.is_ok());
                // The build as the cancel left it: a build that had
                // already finished keeps its status.
                match r {
                    Ok(b) => Event::Answer(Answer::Build {
                        finished: b.is_finished(),
                        status: b.status,
                    }),
                    Err(e) => drone_failed(e),
                }
            }
            Call::Build { number } => {
                let ci = &self.settings.ci_repo;
                let r = self.drone.build(ci.owner(), ci.name(), number as i64).await;
                self.metrics.request("drone", "build", r.is_ok());
                match r {
                    Ok(b) => Event::Answer(Answer::Build {
                        finished: b.is_finished(),
                        status: b.status,
                    }),
                    Err(e) => drone_failed(e),
                }
            }
            Call::CommentAssets { repo, comment } => {
                gitea(g.comment_assets(repo.as_str(), comment).await, |list| {
                    Answer::Assets(
                        list.into_iter()
                            .map(|a| (a.name, a.browser_download_url))
                            .collect(),
                    )
                })
            }
            Call::UploadAsset {
                repo,
                comment,
                build,
                file,
            } => match self.screenshot(build, &file) {
                Ok(bytes) => {
                    let r = g
                        .upload_comment_asset(repo.as_str(), comment, &file, "image/png", &bytes)
                        .await;
                    gitea(r, |a| Answer::Uploaded {
                        url: a.browser_download_url,
                    })
                }
                Err(why) => Event::Failed(Failure::new(ErrorClass::Fatal, why)),
            },
            Call::ReadResults { number } => {
                let dir = names::files::build_output_dir(&self.settings.runs_dir, number);
                let results = ResultsV1::read(&dir.join(names::files::RESULTS_FILE))
                    .map(Box::new)
                    .map_err(|e| {
                        tracing::warn!(build = number, error = %e, "results unusable");
                        results_problem(&e)
                    });
                Event::Answer(Answer::Results { results })
            }
        }
    }
}
