-- The steps tests/clients/neovim/test_neovim.py drives through a real Neovim
-- (run after init.lua with `-c "luafile tests/clients/neovim/scenario.lua"`).
-- Spec from $SESSIONS_NVIM_SPEC,
-- a JSON file: {out, edit = {line, text}, cursor_line, timeout_ms, run_timeout_ms}.
-- Every wait has a timeout; the report (rewritten after each step, so a hang
-- still leaves the server pid for cleanup) goes to spec.out; then Neovim quits.

local sessions = _G.sessions
local spec = vim.fn.json_decode(table.concat(vim.fn.readfile(vim.env.SESSIONS_NVIM_SPEC), "\n"))
local report = { steps = {} }
local bufnr = vim.api.nvim_get_current_buf()
local uri = vim.uri_from_bufnr(bufnr)

local function save()
  vim.fn.writefile({ vim.fn.json_encode(report) }, spec.out)
end

local function wait_for(what, timeout_ms, condition)
  if not vim.wait(timeout_ms, condition, 20) then
    error("timed out after " .. timeout_ms .. " ms waiting for " .. what, 0)
  end
  table.insert(report.steps, what)
  save()
end

-- Count the diagnostics the server publishes for this buffer, whatever Neovim shows.
local publishes = 0
local default_publish = vim.lsp.handlers["textDocument/publishDiagnostics"]
vim.lsp.handlers["textDocument/publishDiagnostics"] = function(err, result, ctx, config)
  if result and result.uri == uri then
    publishes = publishes + 1
  end
  return default_publish(err, result, ctx, config)
end

local function diagnostics()
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(found, { code = d.code, line = d.lnum, source = d.source, message = d.message })
  end
  return found
end

local function codes()
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    found[d.code] = true
  end
  return found
end

local function lenses()
  local found = {}
  for _, lens in ipairs(vim.lsp.codelens.get(bufnr)) do
    if lens.command then
      table.insert(found, {
        line = lens.range.start.line,
        title = lens.command.title,
        command = lens.command.command,
        arguments = lens.command.arguments,
      })
    end
  end
  return found
end

local function find_lens(title)
  for _, lens in ipairs(lenses()) do
    if lens.title:find(title, 1, true) then
      return lens
    end
  end
  return nil
end

-- Run a command the way a keymap does, and wait for its result.
local function run_and_wait(what, start)
  local done, outcome = false, {}
  start(function(err, result)
    outcome = { error = err and err.message or vim.NIL, result = result }
    done = true
  end)
  wait_for(what, spec.run_timeout_ms, function() return done end)
  return outcome
end

local function scenario()
  local client
  wait_for("the sessions client to attach", spec.timeout_ms, function()
    client = sessions.client(bufnr)
    return client ~= nil and client.initialized
  end)
  report.server_pid = client.rpc.pid
  save()
  wait_for("the first diagnostics", spec.timeout_ms, function() return publishes > 0 end)
  report.opened = diagnostics()

  -- Edit a cell in the buffer (incremental didChange): it becomes `edited`,
  -- the cell that uses its name `upstream`.
  vim.api.nvim_buf_set_lines(bufnr, spec.edit.line, spec.edit.line + 1, true, { spec.edit.text })
  wait_for("stale diagnostics", spec.timeout_ms, function()
    local c = codes()
    return c["edited"] and c["upstream"]
  end)
  report.stale = diagnostics()

  -- Refreshes are throttled (one in flight per buffer), so ask until the
  -- lenses reflect the edit.
  local lens
  wait_for("a Run stale code lens", spec.timeout_ms, function()
    vim.lsp.codelens.refresh()
    lens = find_lens("Run stale")
    return lens ~= nil
  end)
  report.lenses = lenses()
  save()

  -- Execute the "Run stale" lens's own command through Neovim's client.
  local before = publishes
  report.run_stale = run_and_wait("the Run stale command", function(done)
    sessions.run(bufnr, lens.arguments[1], done)
  end)
  wait_for("diagnostics republished without stale cells", spec.timeout_ms, function()
    local c = codes()
    return publishes > before and not c["edited"] and not c["upstream"]
  end)
  report.after_run = diagnostics()
  report.publishes_after_run = publishes - before

  -- The "run cell under cursor" keymap's function.
  vim.api.nvim_win_set_cursor(0, { spec.cursor_line + 1, 0 })
  report.run_at_cursor = run_and_wait("the run at the cursor", sessions.run_cell_at_cursor)
  wait_for("code lenses without Run stale", spec.timeout_ms, function()
    vim.lsp.codelens.refresh()
    return #lenses() > 0 and find_lens("Run stale") == nil
  end)
  report.lenses_after = lenses()
end

local ok, problem = pcall(scenario)
if not ok then
  report.error = tostring(problem)
end
report.finished = true
save()
vim.cmd("qall!")
