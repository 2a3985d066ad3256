//! `geusemaker explain`: an error code's entry in the table (`crate::codes`).

use serde::Serialize;

use crate::cli::ExplainArgs;
use crate::codes::{self, Code};
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

/// One explained code: the entry, and for an AWS code the kind the cloud layer files it under.
#[derive(Serialize)]
struct Explained<'a> {
    /// The code as asked (`GM-AWS-Throttling`); `code` is its entry's (`GM-AWS-*`).
    asked: String,
    #[serde(flatten)]
    entry: &'a Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_kind: Option<gm_cloud::ErrorKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_hint: Option<String>,
}

pub fn run(ctx: &Ctx<'_>, a: &ExplainArgs) -> Result<ExitStatus, CliError> {
    if a.all {
        ctx.out.data(&codes::CODES, codes::markdown);
        return Ok(ExitStatus::Ok);
    }
    let asked = a.code.as_deref().unwrap_or_default().trim();
    let Some(entry) = codes::find(asked) else {
        let near = codes::near(asked);
        let err = CliError::new(
            "GM-CLI-006",
            format!("`{asked}` is not a GeuseMaker error code"),
            ExitStatus::Usage,
        );
        return Err(if near.is_empty() {
            err.hint("`geusemaker explain --all` lists every code")
        } else {
            err.hint(format!("did you mean {}?", near.join(", ")))
        });
    };
    // For GM-AWS-<code>, the kind the cloud layer classifies AWS's code as, with its hint.
    let aws = entry
        .code
        .strip_suffix('*')
        .is_some_and(|family| family == codes::AWS_PREFIX)
        .then(|| &asked[asked.len().min(codes::AWS_PREFIX.len())..])
        .filter(|c| !c.is_empty() && *c != "ERROR")
        .map(|c| gm_cloud::CloudError::new("", Some(c), ""));
    let explained = Explained {
        asked: asked.to_string(),
        entry,
        aws_kind: aws.as_ref().map(|e| e.kind),
        aws_hint: aws.as_ref().and_then(|e| e.hint()),
    };
    ctx.out.data(&explained, || {
        let mut s = format!(
            "{}  (exit {})\n\n{}\n\nWhat to do: {}\n",
            if entry.code.ends_with('*') {
                format!("{asked}, one of {}", entry.code)
            } else {
                entry.code.to_string()
            },
            entry.exit,
            entry.meaning,
            entry.fix
        );
        if let Some(kind) = explained.aws_kind {
            s.push_str(&format!(
                "\nGeuseMaker files this AWS code as: {}\n",
                serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ));
            if let Some(h) = &explained.aws_hint {
                s.push_str(&format!("Hint: {h}\n"));
            }
        }
        s
    });
    Ok(ExitStatus::Ok)
}
