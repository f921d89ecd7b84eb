export const agentCommands: import("../cli/command.js").Command[] = [];
