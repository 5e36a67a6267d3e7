// User settings shared by both runners: quiet, offline, and workspace trust as the mode asks.
import * as fs from 'fs';
import * as path from 'path';

export function userSettings(restricted: boolean): Record<string, unknown> {
  const settings: Record<string, unknown> = {
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'git.enabled': false,
    'chat.disableAIFeatures': true,
    'telemetry.telemetryLevel': 'off',
    'security.workspace.trust.enabled': restricted,
  };
  if (restricted) {
    // Restricted Mode without the modal trust prompt (which would cover the workbench in screenshots).
    settings['security.workspace.trust.startupPrompt'] = 'never';
    settings['security.workspace.trust.emptyWindow'] = false;
  }
  return settings;
}

/** Writes <userDataDir>/User/settings.json. */
export function writeUserSettings(userDataDir: string, restricted: boolean): void {
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(userSettings(restricted), null, 2));
}
