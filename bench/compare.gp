# Plot of bench/compare.sh: deliveries/s and p99 latency against connections, per system.
#   gnuplot -e "data='plot.dat'; out='benchmarks.png'" bench/compare.gp
# Columns of `data`: connections, then deliveries/s and p99 ms of Switchboard, Socket.IO, Nchan.
set terminal pngcairo size 1000,420 font ",10" noenhanced
set output out
set datafile missing "?"
set key top left
set grid
set xlabel "connections (two instances on one Redis)"
set multiplot layout 1,2
set title "broadcast deliveries per second"
set ylabel "deliveries/s"
set yrange [0:*]
plot data using 1:2 with linespoints title "Switchboard", \
     data using 1:4 with linespoints title "Socket.IO", \
     data using 1:6 with linespoints title "Nchan"
set title "p99 delivery latency"
set ylabel "ms"
plot data using 1:3 with linespoints title "Switchboard", \
     data using 1:5 with linespoints title "Socket.IO", \
     data using 1:7 with linespoints title "Nchan"
unset multiplot
