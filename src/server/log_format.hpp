// The log line formats: text for a terminal, JSON lines for log collectors.
#pragma once

namespace switchboard {

// Every logger, the default and those made later, writes one JSON object per line:
// {"time":"2026-12-03T16:10:23.123Z","level":"info","logger":"...","msg":"..."}. The field names
// are stable: dashboards and alerts key on them.
void use_json_log_format();

}  // namespace switchboard
