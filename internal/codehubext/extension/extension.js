// The codehub extension: runs in the workspace's extension host (next to code-server, never
// in the browser) and talks to the gateway's agent API with the workspace's own agent
// token (CODEHUB_AGENT_TOKEN, which acts on this workspace only). Plain JavaScript, no
// dependencies: it is packed into a VSIX by internal/codehubext at build time.
'use strict';

const vscode = require('vscode');
const http = require('http');
const https = require('https');

const env = (k) => process.env[k] || '';
const POLL_MS = 30 * 1000;
const WARN_MAX_S = 5 * 60; // warn this long before the stop (half the timeout when shorter)

let status = null; // the last status from the gateway
let clockOffset = 0; // gateway clock minus ours, in ms
let warnedFor = ''; // the stopsAt a warning was shown for
let item = null;
let pollTimer = null;
let warnTimer = null;
let tickTimer = null;

// request calls the agent API: CODEHUB_AGENT_URL is http(s)://host:port or unix:/path.
function request(method, path, body) {
	const base = env('CODEHUB_AGENT_URL');
	const token = env('CODEHUB_AGENT_TOKEN');
	return new Promise((resolve, reject) => {
		if (!base || !token) {
			reject(new Error('not in a codehub workspace (no CODEHUB_AGENT_URL/CODEHUB_AGENT_TOKEN)'));
			return;
		}
		const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
		const headers = { Authorization: 'Bearer ' + token, Accept: 'application/json' };
		if (data) {
			headers['Content-Type'] = 'application/json';
			headers['Content-Length'] = String(data.length);
		}
		let opts;
		let mod = http;
		if (base.startsWith('unix:')) {
			opts = { socketPath: base.slice(5), path, method, headers };
		} else {
			const u = new URL(path, base);
			mod = u.protocol === 'https:' ? https : http;
			opts = { hostname: u.hostname, port: u.port, path: u.pathname + u.search, method, headers };
		}
		const req = mod.request(opts, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const text = Buffer.concat(chunks).toString('utf8');
				let json = null;
				try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
				if (res.statusCode >= 200 && res.statusCode < 300 && json) {
					resolve(json);
				} else {
					reject(new Error((json && json.error) || ('HTTP ' + res.statusCode)));
				}
			});
		});
		req.setTimeout(10000, () => req.destroy(new Error('timeout')));
		req.on('error', reject);
		if (data) {
			req.write(data);
		}
		req.end();
	});
}

function publicURL(path) {
	let base = (status && status.publicURL) || env('CODEHUB_PUBLIC_URL');
	if (!base) {
		return null;
	}
	if (!base.endsWith('/')) {
		base += '/';
	}
	return vscode.Uri.parse(base + path);
}

// remaining is the time until the stop in seconds (null: none).
function remaining() {
	if (!status || !status.stopsAt) {
		return null;
	}
	return (Date.parse(status.stopsAt) - (Date.now() + clockOffset)) / 1000;
}

function human(s) {
	if (s < 60) {
		const n = Math.max(0, Math.ceil(s));
		return n + (n === 1 ? ' second' : ' seconds');
	}
	if (s < 3600) {
		const m = Math.ceil(s / 60);
		return m + (m === 1 ? ' minute' : ' minutes');
	}
	const h = Math.floor(s / 3600);
	const m = Math.round((s % 3600) / 60);
	return h + ' h' + (m ? ' ' + m + ' min' : '');
}

function render() {
	if (!item) {
		return;
	}
	const user = (status && status.user) || env('CODEHUB_USER') || 'codehub';
	const left = remaining();
	let text = '$(account) ' + user;
	let tip = 'codehub: signed in as ' + user;
	if (left !== null) {
		const why = status.stopReason === 'max-run-time' ? 'maximum run time' : 'idle';
		text += ' · stops in ' + human(left);
		tip += '\nThis workspace stops in ' + human(left) + ' (' + why + ').';
	} else if (status && status.state === 'Running') {
		tip += '\nThis workspace is never stopped for being idle.';
	}
	item.text = text;
	item.tooltip = tip + '\nClick for Keep running, Stop workspace, Open dashboard, Sign out.';
	item.show();
}

function warnLead() {
	const idle = (status && status.idleTimeoutSeconds) || 0;
	return idle > 0 ? Math.min(WARN_MAX_S, idle / 2) : WARN_MAX_S;
}

// schedule arms the warning for the current deadline.
function schedule() {
	clearTimeout(warnTimer);
	const left = remaining();
	if (left === null || warnedFor === status.stopsAt) {
		return;
	}
	const wait = Math.max(0, (left - warnLead()) * 1000);
	warnTimer = setTimeout(warn, wait);
}

async function warn() {
	const left = remaining();
	if (left === null || warnedFor === status.stopsAt || left > warnLead() + 1) {
		schedule();
		return;
	}
	warnedFor = status.stopsAt;
	if (status.stopReason === 'max-run-time') {
		vscode.window.showWarningMessage('This workspace stops in ' + human(left) + ': it has run for its maximum time. Save your work.');
		return;
	}
	const choice = await vscode.window.showWarningMessage('This workspace stops in ' + human(left) + ' because it is idle.', 'Keep running');
	if (choice === 'Keep running') {
		await keepRunning();
	}
}

async function refresh() {
	try {
		const s = await request('GET', '/_codehub/agent/v1/status');
		accept(s);
	} catch (e) {
		// The workspace is going away (or the gateway restarts): keep the last state.
	}
}

function accept(s) {
	status = s;
	if (s.now) {
		clockOffset = Date.parse(s.now) - Date.now();
	}
	render();
	schedule();
}

async function keepRunning() {
	try {
		accept(await request('POST', '/_codehub/agent/v1/activity', { kind: 'keep-running' }));
		const left = remaining();
		vscode.window.setStatusBarMessage('codehub: keeping your workspace running' + (left !== null ? ' (stops in ' + human(left) + ' if idle)' : ''), 5000);
	} catch (e) {
		vscode.window.showErrorMessage('codehub: could not keep the workspace running: ' + e.message);
	}
}

async function stopWorkspace() {
	const choice = await vscode.window.showWarningMessage('Stop this workspace? Your files stay; opening VS Code again starts it.', { modal: true }, 'Stop workspace');
	if (choice !== 'Stop workspace') {
		return;
	}
	try {
		await request('POST', '/_codehub/agent/v1/stop', {});
	} catch (e) {
		vscode.window.showErrorMessage('codehub: could not stop the workspace: ' + e.message);
	}
}

function open(path, what) {
	const uri = publicURL(path);
	if (!uri) {
		vscode.window.showErrorMessage('codehub: the gateway\'s address is unknown (CODEHUB_PUBLIC_URL), cannot ' + what + '.');
		return;
	}
	vscode.env.openExternal(uri);
}

async function menu() {
	const picks = [
		{ label: '$(watch) Keep running', run: keepRunning },
		{ label: '$(debug-stop) Stop workspace', run: stopWorkspace },
		{ label: '$(dashboard) Open dashboard', run: () => open('_codehub/', 'open the dashboard') },
		{ label: '$(sign-out) Sign out', run: () => open('_codehub/logout', 'sign out') },
	];
	const left = remaining();
	const pick = await vscode.window.showQuickPick(picks, { placeHolder: left !== null ? 'This workspace stops in ' + human(left) + ' unless you work in it' : 'codehub' });
	if (pick) {
		await pick.run();
	}
}

function activate(context) {
	item = vscode.window.createStatusBarItem('codehub.status', vscode.StatusBarAlignment.Left, -1000);
	item.name = 'codehub';
	item.command = 'codehub.menu';
	context.subscriptions.push(item,
		vscode.commands.registerCommand('codehub.keepRunning', keepRunning),
		vscode.commands.registerCommand('codehub.stopWorkspace', stopWorkspace),
		vscode.commands.registerCommand('codehub.signOut', () => open('_codehub/logout', 'sign out')),
		vscode.commands.registerCommand('codehub.openDashboard', () => open('_codehub/', 'open the dashboard')),
		vscode.commands.registerCommand('codehub.menu', menu),
		{ dispose: () => { clearInterval(pollTimer); clearTimeout(warnTimer); clearInterval(tickTimer); } });
	render();
	refresh();
	pollTimer = setInterval(refresh, POLL_MS);
	tickTimer = setInterval(render, 5000);
}

function deactivate() {}

module.exports = { activate, deactivate };
