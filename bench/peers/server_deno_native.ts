// Echo server on Deno.serve + Deno.upgradeWebSocket. Usage: deno run -A bench/peers/server_deno_native.ts
const portArg = Deno.args.indexOf("--port");
Deno.serve({
  hostname: "127.0.0.1",
  port: portArg >= 0 ? Number(Deno.args[portArg + 1]) : 0,
  onListen: ({ port }) => console.log(`PORT ${port}`),
}, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => socket.send(event.data);
  socket.onerror = () => {};
  return response;
});
