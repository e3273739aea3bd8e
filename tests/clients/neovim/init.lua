-- Sessions for Neovim: the configuration docs/editors.md describes, in the form
-- that works from Neovim 0.7 (vim.lsp.start_client) onwards.
-- tests/clients/neovim/test_neovim.py starts
-- `nvim --headless -u tests/clients/neovim/init.lua` with it and drives it.
--
-- SESSIONS_LSP_CMD (a JSON list) overrides the server command, so the test can
-- run the server from the checkout's virtualenv; users keep { "sessions", "lsp" }.

local M = {}

M.cmd = { "sessions", "lsp" }
if vim.env.SESSIONS_LSP_CMD and vim.env.SESSIONS_LSP_CMD ~= "" then
  M.cmd = vim.fn.json_decode(vim.env.SESSIONS_LSP_CMD)
end

-- One server per project folder; every Python buffer below it attaches to it.
local client_by_root = {}

local function root_for(bufnr)
  local file = vim.api.nvim_buf_get_name(bufnr)
  local folder = vim.fn.fnamemodify(file, ":p:h")
  local marker = vim.fn.findfile("pyproject.toml", folder .. ";")
  if marker ~= "" then
    return vim.fn.fnamemodify(marker, ":p:h")
  end
  return folder
end

function M.attach(bufnr)
  local root = root_for(bufnr)
  local id = client_by_root[root]
  if id == nil or vim.lsp.get_client_by_id(id) == nil then
    id = vim.lsp.start_client({
      name = "sessions",
      cmd = M.cmd,
      root_dir = root,
      init_options = { sessions = { runUpstream = true } },
      -- Give the server time to shut its kernels down when Neovim quits.
      flags = { exit_timeout = 3000 },
      on_attach = function(_, attached) M.on_attach(attached) end,
    })
    if id == nil then
      vim.notify("sessions: cannot start " .. table.concat(M.cmd, " "), vim.log.levels.ERROR)
      return
    end
    client_by_root[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
end

function M.client(bufnr)
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if client.name == "sessions" then
      return client
    end
  end
  return nil
end

-- `sessions.run {uri, ...}` through the buffer's client. `on_result(err, result)`
-- gets the run summary {planned, ran, restored, notes, skipped, ok, stoppedBecause}.
function M.run(bufnr, argument, on_result)
  local client = M.client(bufnr)
  if client == nil then
    vim.notify("sessions: no language server attached to this buffer", vim.log.levels.WARN)
    return
  end
  argument.uri = argument.uri or vim.uri_from_bufnr(bufnr)
  local params = { command = "sessions.run", arguments = { argument } }
  client.request("workspace/executeCommand", params, function(err, result)
    if on_result then
      on_result(err, result)
    elseif err then
      vim.notify("sessions: " .. err.message, vim.log.levels.ERROR)
    end
    vim.lsp.codelens.refresh()
  end, bufnr)
end

-- The cell under the cursor: the server maps the 0-based line to its cell.
function M.run_cell_at_cursor(on_result)
  local bufnr = vim.api.nvim_get_current_buf()
  local line = vim.api.nvim_win_get_cursor(0)[1] - 1
  M.run(bufnr, { line = line }, on_result)
end

function M.run_stale(on_result)
  M.run(vim.api.nvim_get_current_buf(), { mode = "stale" }, on_result)
end

local group = vim.api.nvim_create_augroup("sessions", { clear = true })

-- Keymaps and lens refreshes once the server is up (Neovim 0.7 loses a lens
-- refresh requested before the client finished initialising).
function M.on_attach(bufnr)
  local opts = { buffer = bufnr }
  vim.keymap.set("n", "<leader>rc", function() M.run_cell_at_cursor() end, opts)
  vim.keymap.set("n", "<leader>rs", function() M.run_stale() end, opts)
  vim.keymap.set("n", "<leader>rl", vim.lsp.codelens.run, opts)
  vim.api.nvim_create_autocmd({ "BufEnter", "CursorHold", "InsertLeave" }, {
    group = group,
    buffer = bufnr,
    callback = function() vim.lsp.codelens.refresh() end,
  })
  vim.lsp.codelens.refresh()
end

vim.api.nvim_create_autocmd("FileType", {
  group = group,
  pattern = "python",
  callback = function(args) M.attach(args.buf) end,
})

_G.sessions = M
return M
