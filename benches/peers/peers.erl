%% Erlang (BEAM) peer of benches/processes.rs: workloads W1a, W1b, W2, W3,
%% W5, W6 and W12 of BENCHMARKS.md, with Erlang processes and their
%% mailboxes.
%%
%% Run (two schedulers, room for skynet's million processes):
%%   erlc peers.erl && erl +S 2:2 +P 4194304 -noshell -run peers main [Runs [Only]]
%%
%% Each workload runs once as a warm-up, then Runs times (default 5); a line
%% per workload gives the median figure and the spread:
%%
%%   <workload> <median> <unit> (min .. max over N runs)
%%
%% Names follow the criterion groups in processes.rs (w2_ping_pong/...).
%% Every run starts in a fresh root process, as processes.rs runs each
%% measurement in a root process of its own (Runtime::block_on), so no
%% run inherits a mailbox or heap from the one before.
%%
%% "Worker" is a scheduler here. Where processes.rs pins a process to a
%% worker (SpawnOptions::worker), this program uses spawn_opt's
%% {scheduler, N} option: present in OTP 25's erts and used by its own
%% test suites, but not documented. W12's one-worker run takes a scheduler
%% offline (erlang:system_flag(schedulers_online, 1)) for its duration.
-module(peers).
-export([main/0, main/1]).

%% Sizes, as in benches/processes.rs and BENCHMARKS.md.
-define(CHAIN_LINKS, 1000000).      % W1a: links in the chain
-define(BURST_SIZES, [20000, 100000]). % W1b: processes.rs's two sizes
-define(PING_PONG_TRIPS, 1000000).  % W2: round trips (same, default)
-define(CROSS_PING_TRIPS, 100000).  % W2 cross: fewer, a trip costs µs
-define(SKYNET_SMALL, 10000).       % W3's smaller size
-define(SKYNET_LEAVES, 1000000).    % W3 and W12
-define(RING_SIZE, 503).            % W5: RING
-define(RING_HOPS, 10000000).       % W5: hops
-define(YIELDERS, 200).             % W6: YIELDERS
-define(YIELDS_EACH, 1000).         % W6: yields per process
-define(DEFAULT_RUNS, 5).

now_ns() -> erlang:monotonic_time(nanosecond).

%% Runs Body in a fresh root process and returns what it measured (ns);
%% stops the program if the root fails (a wrong sum, say).
on_root(Body) ->
    Parent = self(),
    Ref = make_ref(),
    {_, Monitor} = spawn_monitor(fun() -> Parent ! {Ref, Body()} end),
    receive
        {Ref, Took} ->
            erlang:demonitor(Monitor, [flush]),
            Took;
        {'DOWN', Monitor, process, _, Reason} ->
            io:format(standard_error, "a run failed: ~p~n", [Reason]),
            halt(1)
    end.

%% ---------------------------------------------------------------- W1a

%% One link of the chain: the last one (Left =:= 0) messages the root,
%% every other spawns the next and exits (ferrotp_link).
link(Root, 0) -> Root ! done;
link(Root, Left) -> spawn(fun() -> link(Root, Left - 1) end).

chained_spawn(Links) ->
    on_root(fun() ->
        Start = now_ns(),
        link(self(), Links),
        receive done -> ok end,
        now_ns() - Start
    end).

%% ---------------------------------------------------------------- W1b

%% The root spawns Burst processes, each sends its index back, the root
%% sums them. QueueData is the root's message_queue_data: with on_heap,
%% BEAM's default, every garbage collection of the root (which allocates a
%% closure a spawn) scans the messages already queued, so the run grows
%% with the square of Burst; off_heap, the setting Erlang programmers give
%% a process that takes a burst of messages, keeps it linear.
burst_spawn(Burst, QueueData) ->
    on_root(fun() ->
        process_flag(message_queue_data, QueueData),
        Start = now_ns(),
        spawn_burst(self(), 0, Burst),
        Sum = sum_messages(Burst, 0),
        Sum = Burst * (Burst - 1) div 2,
        now_ns() - Start
    end).

spawn_burst(_Root, Burst, Burst) -> ok;
spawn_burst(Root, I, Burst) ->
    spawn(fun() -> Root ! I end),
    spawn_burst(Root, I + 1, Burst).

sum_messages(0, Sum) -> Sum;
sum_messages(Left, Sum) ->
    receive N -> sum_messages(Left - 1, Sum + N) end.

%% ---------------------------------------------------------------- W2

%% A driver and a ponger exchange a counter RoundTrips times; the driver
%% counts down to 0, which the ponger echoes and then exits
%% (ferrotp_ping_pong). DriverOpts and PongerOpts place the two: [] for
%% default placement, [{scheduler, N}] to pin one to scheduler N.
ping_pong(RoundTrips, DriverOpts, PongerOpts) ->
    on_root(fun() ->
        Root = self(),
        spawn_opt(fun() ->
            Ponger = spawn_opt(fun() ->
                receive {pinger, Pinger} -> pong(Pinger) end
            end, PongerOpts),
            Ponger ! {pinger, self()},
            Start = now_ns(),
            ping(Ponger, RoundTrips),
            Root ! {took, now_ns() - Start}
        end, DriverOpts),
        receive {took, Took} -> Took end
    end).

ping(_Ponger, 0) -> ok;
ping(Ponger, Left) ->
    Ponger ! Left - 1,
    receive _ -> ping(Ponger, Left - 1) end.

pong(Pinger) ->
    receive
        0 -> Pinger ! 0;
        N -> Pinger ! N, pong(Pinger)
    end.

%% ---------------------------------------------------------------- W3 / W12

%% A node of size 1 sends its number to its parent; a larger one spawns 10
%% children over its range, sums their 10 answers and sends the sum up
%% (ferrotp_skynet).
skynet(Parent, Num, 1) -> Parent ! Num;
skynet(Parent, Num, Size) ->
    Me = self(),
    Child = Size div 10,
    [spawn(fun() -> skynet(Me, Num + I * Child, Child) end) || I <- lists:seq(0, 9)],
    Parent ! sum_messages(10, 0).

skynet_run(Leaves) ->
    on_root(fun() ->
        Start = now_ns(),
        Me = self(),
        spawn(fun() -> skynet(Me, 0, Leaves) end),
        Expected = Leaves * (Leaves - 1) div 2,
        receive Sum -> Expected = Sum end,
        now_ns() - Start
    end).

%% ---------------------------------------------------------------- W5

%% RING_SIZE processes in a ring; a member given token T > 0 passes T-1 to
%% the next, the one given 0 tells the root. Timed from the first send to
%% the root's message, as in ferrotp_ring; stopped after the clock stops.
thread_ring(Hops) ->
    on_root(fun() ->
        Root = self(),
        Members = [spawn(fun() -> receive {next, Next} -> ring_member(Root, Next) end end)
                   || _ <- lists:seq(1, ?RING_SIZE)],
        [First | Rest] = Members,
        lists:foreach(fun({M, Next}) -> M ! {next, Next} end,
                      lists:zip(Members, Rest ++ [First])),
        Start = now_ns(),
        First ! Hops,
        receive ring_done -> ok end,
        Took = now_ns() - Start,
        [M ! stop || M <- Members],
        Took
    end).

ring_member(Root, Next) ->
    receive
        0 -> Root ! ring_done, ring_member(Root, Next);
        stop -> ok;
        T -> Next ! T - 1, ring_member(Root, Next)
    end.

%% ---------------------------------------------------------------- W6

%% YIELDERS processes each call erlang:yield() Each times, then tell the
%% root; timed from the first spawn to the last message (w6_yield).
yields(Each) ->
    on_root(fun() ->
        Root = self(),
        Start = now_ns(),
        [spawn(fun() -> yield_loop(Each), Root ! yielded end)
         || _ <- lists:seq(1, ?YIELDERS)],
        [receive yielded -> ok end || _ <- lists:seq(1, ?YIELDERS)],
        now_ns() - Start
    end).

yield_loop(0) -> ok;
yield_loop(N) -> erlang:yield(), yield_loop(N - 1).

%% ---------------------------------------------------------------- harness

%% Runs Run once unmeasured, then Runs times; each run's figure is its
%% nanoseconds divided by Ops, in ms when Unit is "ms".
measure(Runs, Ops, Unit, Run) ->
    _ = Run(),
    [figure(Run(), Ops, Unit) || _ <- lists:seq(1, Runs)].

figure(Ns, Ops, "ms") -> Ns / Ops / 1.0e6;
figure(Ns, Ops, _) -> Ns / Ops.

%% Measures a whole run (in ms) with OnlineA schedulers online and with
%% OnlineB, alternating: a warm-up of each, then Runs of each.
measure_alternating(Runs, OnlineA, OnlineB, Run) ->
    Previous = erlang:system_info(schedulers_online),
    Once = fun(Online) ->
        erlang:system_flag(schedulers_online, Online),
        figure(Run(), 1, "ms")
    end,
    _ = Once(OnlineA),
    _ = Once(OnlineB),
    Pairs = [{Once(OnlineA), Once(OnlineB)} || _ <- lists:seq(1, Runs)],
    erlang:system_flag(schedulers_online, Previous),
    lists:unzip(Pairs).

median(Figures) ->
    Sorted = lists:sort(Figures),
    N = length(Sorted),
    case N rem 2 of
        1 -> lists:nth(N div 2 + 1, Sorted);
        0 -> (lists:nth(N div 2, Sorted) + lists:nth(N div 2 + 1, Sorted)) / 2
    end.

fmt(X, "ms") -> io_lib:format("~.2f", [float(X)]);
fmt(X, _) -> io_lib:format("~.1f", [float(X)]).

report(Name, Unit, Figures) ->
    Sorted = lists:sort(Figures),
    io:format("~-44s ~10s ~-9s (~s .. ~s over ~b runs)~n",
              [Name, fmt(median(Figures), Unit), Unit, fmt(hd(Sorted), Unit),
               fmt(lists:last(Sorted), Unit), length(Figures)]).

%% Measures and reports one workload with Online schedulers online, unless
%% Only leaves it out; returns the figures, or none.
bench({Runs, Only}, Name, Online, Ops, Unit, Run) ->
    case string:find(Name, Only) of
        nomatch -> none;
        _ ->
            Previous = erlang:system_flag(schedulers_online, Online),
            Figures = measure(Runs, Ops, Unit, Run),
            erlang:system_flag(schedulers_online, Previous),
            report(Name, Unit, Figures),
            Figures
    end.

main() -> main([]).

main(Args) ->
    {Runs, Only} = case Args of
        [] -> {?DEFAULT_RUNS, ""};
        [R] -> {list_to_integer(R), ""};
        [R, O | _] -> {list_to_integer(R), O}
    end,
    Schedulers = erlang:system_info(schedulers),
    Schedulers >= 2 orelse
        io:format(standard_error, "note: ~b scheduler(s); run with +S 2:2~n", [Schedulers]),
    Runs >= 5 orelse
        io:format(standard_error, "note: ~b runs; BENCHMARKS.md figures want at least 5~n", [Runs]),
    io:format("# Erlang/OTP ~s (erts ~s, ~p), ~b schedulers (2 unless the workload says "
              "otherwise), process limit ~b, 1 warm-up + ~b runs each~n",
              [erlang:system_info(otp_release), erlang:system_info(version),
               erlang:system_info(emu_flavor), Schedulers,
               erlang:system_info(process_limit), Runs]),
    C = {Runs, Only},
    Two = 2,
    bench(C, "w1a_chained_spawn", Two, ?CHAIN_LINKS, "ns/link",
          fun() -> chained_spawn(?CHAIN_LINKS) end),
    %% W1b with the root's mailbox off the heap at both sizes, and with
    %% BEAM's default (on the heap) at the smaller one only: at 100,000 a
    %% run of that takes about 5 s (README.md).
    [bench(C, "w1b_burst_spawn/" ++ integer_to_list(B), Two, B, "ns/proc",
           fun() -> burst_spawn(B, off_heap) end) || B <- ?BURST_SIZES],
    bench(C, "w1b_burst_spawn_on_heap/20000", Two, 20000, "ns/proc",
          fun() -> burst_spawn(20000, on_heap) end),
    %% W2 as in processes.rs: default placement, both pinned to one
    %% scheduler, pinned to different schedulers; and, as the Go peer's
    %% GOMAXPROCS=1, with one scheduler online.
    bench(C, "w2_ping_pong/default", Two, ?PING_PONG_TRIPS, "ns/trip",
          fun() -> ping_pong(?PING_PONG_TRIPS, [], []) end),
    bench(C, "w2_ping_pong/same_worker", Two, ?PING_PONG_TRIPS, "ns/trip",
          fun() -> ping_pong(?PING_PONG_TRIPS, [{scheduler, 1}], [{scheduler, 1}]) end),
    bench(C, "w2_ping_pong/cross_worker", Two, ?CROSS_PING_TRIPS, "ns/trip",
          fun() -> ping_pong(?CROSS_PING_TRIPS, [{scheduler, 1}], [{scheduler, 2}]) end),
    bench(C, "w2_ping_pong/one_scheduler_online", 1, ?PING_PONG_TRIPS, "ns/trip",
          fun() -> ping_pong(?PING_PONG_TRIPS, [], []) end),
    bench(C, "w3_skynet/" ++ integer_to_list(?SKYNET_SMALL), Two, 1, "ms",
          fun() -> skynet_run(?SKYNET_SMALL) end),
    %% W3 at 1,000,000 leaves is W12's two-scheduler half: measured once,
    %% in W12's alternation below.
    bench(C, "w5_thread_ring", Two, ?RING_HOPS, "ns/hop",
          fun() -> thread_ring(?RING_HOPS) end),
    bench(C, "w6_yield", Two, ?YIELDERS * ?YIELDS_EACH, "ns/yield",
          fun() -> yields(?YIELDS_EACH) end),
    %% W12: W3 (1,000,000 leaves) with one scheduler online and with two,
    %% the runs alternating so that a change in the machine's load falls on
    %% both.
    W12Names = "w3_skynet/1000000 w12_skynet_scaling/workers1 "
               "w12_skynet_scaling/workers2 w12_skynet_scaling/speedup",
    case string:find(W12Names, Only) of
        nomatch -> ok;
        _ ->
            {One, Both} = measure_alternating(Runs, 1, Two,
                                              fun() -> skynet_run(?SKYNET_LEAVES) end),
            report("w3_skynet/" ++ integer_to_list(?SKYNET_LEAVES), "ms", Both),
            report("w12_skynet_scaling/workers1", "ms", One),
            report("w12_skynet_scaling/workers2", "ms", Both),
            io:format("~-44s ~10.2f ~-9s (median 1 worker / median 2 workers)~n",
                      ["w12_skynet_scaling/speedup", median(One) / median(Both), "x"])
    end,
    halt(0).
